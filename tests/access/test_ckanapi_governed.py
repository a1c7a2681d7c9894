"""The official ckanapi client reads governed data as the docs say: a purpose header on a
requests session, or a token bound to the agreement — against our real server."""

from __future__ import annotations

import ckanapi
import pytest
import requests


def test_ckanapi_with_a_purpose_header_and_with_a_bound_token(governed, live_server, make_ctx):
    from citydata.access.actors import Actor
    from citydata.catalog.users import create_token

    ref = governed.grant()
    rid = governed.resource("restricted")
    plain = ckanapi.RemoteCKAN(live_server, apikey=governed.tokens["hackney-analyst"])
    with pytest.raises(ckanapi.NotAuthorized, match="X-Citydata-Purpose"):
        plain.action.datastore_search(resource_id=rid)

    session = requests.Session()
    session.headers["X-Citydata-Purpose"] = "service-planning"
    city = ckanapi.RemoteCKAN(live_server, apikey=governed.tokens["hackney-analyst"],
                              session=session)
    assert city.action.datastore_search(resource_id=rid, limit=3)["total"] == 60

    with make_ctx() as ctx:
        bound = create_token(ctx.session, Actor.system(), "hackney-analyst", agreement=ref,
                             scope="read")
    city = ckanapi.RemoteCKAN(live_server, apikey=bound)
    assert len(city.action.datastore_search(resource_id=rid, limit=3)["records"]) == 3
    with pytest.raises(ckanapi.NotAuthorized, match="scope is read"):
        city.action.package_patch(id="care-open", title="changed")
