"""Answers by place for Londoners: "Find my council" — which council, and where to report
fly-tipping, a pothole, a missed bin... — from a postcode."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citydata.api.deps import request_ctx
from citydata.errors import CitydataError
from citydata.geo.places import council_services, lookup
from citydata.web.render import actor_context, render_page

router = APIRouter(include_in_schema=False)


@router.get("/find-my-council", response_class=HTMLResponse)
def find_my_council(request: Request, postcode: str = "") -> HTMLResponse:
    """Enter a postcode; see the borough, its council and the pages for everyday services."""
    postcode = postcode.strip()[:20]
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        context = {**actor_context(ctx), "postcode": postcode, "place": None, "services": [],
                   "errors": {}}
        status = 200
        if postcode:
            try:
                place = lookup(ctx.session, postcode=postcode)
            except CitydataError as exc:
                context["errors"] = {"postcode": exc.message}
                status = 400 if exc.status == 400 else 404
            else:
                context["place"] = place
                context["services"] = council_services(ctx, place["borough"]["gss_code"])
        return render_page(request, "find_my_council.html", context, status_code=status)
