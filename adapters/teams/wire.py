"""Outgoing activities on the wire: card content is sent as built, not walked and copied by the SDK.

Profiled with the real coach at 20 concurrent conversations, about half of a Teams turn's CPU went
on two SDK habits with the Adaptive Card inside each reply: ``TurnContext.send_activities`` deep-copies
every outgoing activity, card included, and msrest's ``Serializer.body`` walks the card node by node
(``serialize_object``), only to rebuild the same plain dict. Our cards are plain JSON values, made
fresh for every reply and never changed after, so both are pure cost. Two extension points remove it
without touching the SDK's code:

* ``CardContent`` is the card dict with Python's copy protocol saying what is true of it: it is not
  changed after it is built, so a deep copy may be the card itself.
* ``CardConnectorClient`` is the SDK's ``ConnectorClient`` whose conversation operations get a
  ``CardSerializer`` (the operations take their serializer as a constructor argument). It serializes
  activities as msrest always does, except that a ``CardContent`` it meets is taken as it is. Any
  other attachment content (an SDK hero card model, say) goes through msrest as before.
"""

from __future__ import annotations

from typing import Any

from botframework.connector import models
from botframework.connector.aio import ConnectorClient
from botframework.connector.aio.operations_async import ConversationsOperations
from msrest import Serializer

# The connector's model classes by name, as ``ConnectorClient`` gives them to its own serializer.
CONNECTOR_MODELS: dict[str, type] = {k: v for k, v in models.__dict__.items() if isinstance(v, type)}


class CardContent(dict):
    """An Adaptive Card built for one reply: plain JSON values only, not changed once built.

    Only a ``CardSerializer`` sends it right: stock msrest serializes a dict subclass as its ``str()``.
    Every connector client here is a ``CardConnectorClient`` (see ``auth.CachingConnectorFactory``).
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> CardContent:
        return self


class CardSerializer(Serializer):
    """msrest's serializer, except that ``CardContent`` in an activity's attachments goes out as it is.

    Client-side validation is off: no model of the connector declares a validation rule (every
    ``_validation`` is empty), so msrest's validation pass walks each activity and can find nothing.
    """

    def __init__(self, classes: dict[str, type]) -> None:
        super().__init__(classes)
        self.client_side_validation = False

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        """Where msrest meets a value of type ``object`` (an attachment's content): a card goes out as built."""
        if isinstance(attr, CardContent):
            return attr
        return super().serialize_object(attr, **kwargs)


class CardConnectorClient(ConnectorClient):
    """The SDK's connector client with a ``CardSerializer`` for the conversation operations (replies, sends,
    updates)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversations = ConversationsOperations(
            self._client, self.config, CardSerializer(CONNECTOR_MODELS), self._deserialize
        )
