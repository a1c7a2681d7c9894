"""Users, passwords and API tokens (hashed at rest, shown once, expiring, revocable)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citydata.access.actors import Actor
from citydata.catalog import users
from citydata.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from citydata.storage.models import ApiToken, utcnow


def test_password_hashed_and_checked(make_ctx):
    with make_ctx() as ctx:
        user = users.create_user(ctx.session, "ann", "ann@example.org", "a-long-password")
        assert "a-long-password" not in user.password_hash
        assert user.password_hash.startswith("$argon2")
    with make_ctx() as ctx:
        assert users.authenticate(ctx.session, "ann", "a-long-password") is not None
        assert users.authenticate(ctx.session, "ann@example.org", "a-long-password") is not None
        assert users.authenticate(ctx.session, "ann", "wrong-password") is None
        assert users.authenticate(ctx.session, "nobody", "a-long-password") is None


def test_user_validation_and_duplicates(make_ctx):
    with make_ctx() as ctx, pytest.raises(ValidationError) as err:
        users.create_user(ctx.session, "X Y", "not-an-email", "short")
    assert set(err.value.fields) == {"name", "email", "password"}
    with make_ctx() as ctx:
        users.create_user(ctx.session, "bob", "bob@example.org", "bob-password")
    with make_ctx() as ctx, pytest.raises(Conflict):
        users.create_user(ctx.session, "bob", "bob2@example.org", "bob-password")


def test_tokens_lifecycle(make_ctx):
    with make_ctx() as ctx:
        bob = users.create_user(ctx.session, "bob", "bob@example.org", "bob-password")
        users.create_user(ctx.session, "eve", "eve@example.org", "eve-password")
        bob_actor = users.actor_for_user(ctx.session, bob)
        token = users.create_token(ctx.session, bob_actor, "bob", name="laptop", expires_days=7)
        stored = ctx.session.scalars(select(ApiToken)).one()
        assert token not in (stored.token_hash, stored.name) and stored.last_used is None
    with make_ctx() as ctx:
        assert users.user_for_token(ctx.session, token).name == "bob"
    with make_ctx() as ctx:
        assert ctx.session.scalars(select(ApiToken)).one().last_used is not None
        eve = users.actor_for_user(ctx.session, users.get_user(ctx.session, "eve"))
        with pytest.raises(Forbidden):
            users.create_token(ctx.session, eve, "bob")
        with pytest.raises(Forbidden):
            users.revoke_token(ctx.session, eve, "bob", stored.id)
        with pytest.raises(NotAuthenticated):
            users.list_tokens(ctx.session, Actor.anonymous(), "bob")
        with pytest.raises(NotFound):
            users.revoke_token(ctx.session, bob_actor, "bob", "no-such-token")
        users.revoke_token(ctx.session, bob_actor, "bob", stored.id)
    with make_ctx() as ctx, pytest.raises(NotAuthenticated):
        users.user_for_token(ctx.session, token)


def test_expired_token_refused(make_ctx):
    with make_ctx() as ctx:
        users.create_user(ctx.session, "bob", "bob@example.org", "bob-password")
        token = users.create_token(ctx.session, ctx.actor, "bob", expires_days=1)
        ctx.session.scalars(select(ApiToken)).one().expires_at = utcnow() - timedelta(seconds=1)
    with make_ctx() as ctx, pytest.raises(NotAuthenticated) as err:
        users.user_for_token(ctx.session, token)
    assert "expired" in err.value.message
