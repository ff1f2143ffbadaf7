"""Serializers: turn application objects into JSON primitives and back.

The RPC client serializes arguments and the context before sending; the
server deserializes them before calling the endpoint, and serializes the
result on the way back.
"""
from __future__ import annotations

import abc
from typing import Any

from oslo_serialization import jsonutils

__all__ = ['Serializer', 'NoOpSerializer', 'JsonPayloadSerializer',
           'RequestContextSerializer']


class Serializer(metaclass=abc.ABCMeta):
    """Converts entities and request contexts to and from primitives."""

    @abc.abstractmethod
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """An entity (an argument, a result, a payload) as primitives."""

    @abc.abstractmethod
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """The entity that ``serialize_entity`` produced ``entity`` from."""

    @abc.abstractmethod
    def serialize_context(self, ctxt: Any) -> dict:
        """A request context as a dict of primitives."""

    @abc.abstractmethod
    def deserialize_context(self, ctxt: dict) -> Any:
        """The request context a dict stands for."""


class NoOpSerializer(Serializer):
    """Passes everything through unchanged."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt

    def deserialize_context(self, ctxt: Any) -> Any:
        return ctxt


class JsonPayloadSerializer(NoOpSerializer):
    """Converts entities to JSON primitives, objects through their attributes."""

    @staticmethod
    def serialize_entity(context: Any, entity: Any) -> Any:
        return jsonutils.to_primitive(entity, convert_instances=True)


class RequestContextSerializer(Serializer):
    """Wraps a serializer and carries an oslo.context ``RequestContext``.

    Requires oslo.context to deserialize contexts.
    """

    def __init__(self, base: Serializer | None) -> None:
        self._base = base

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity) if self._base else entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity) if self._base else entity

    def serialize_context(self, ctxt: Any) -> dict:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict) -> Any:
        from oslo_context import context as oslo_context
        return oslo_context.RequestContext.from_dict(ctxt)
