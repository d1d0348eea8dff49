"""POSTs one signed webhook to the platform."""

from collections.abc import Mapping
from typing import Final

import httpx

from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.settings import Secret
from psp_simulator.domain.delivery import AttemptResult
from psp_simulator.domain.webhooks import WebhookTarget
from psp_simulator.service_layer.ports import Clock

USER_AGENT: Final = "psp-simulator/0.1"
_MAX_ERROR_LENGTH: Final = 200


class HttpWebhookTransport:
    """Signs the stored bytes as they are (never re-serialised) with a fresh timestamp, and
    POSTs them to the endpoint of their kind (payments and refunds, or payouts)."""

    def __init__(
        self,
        client: httpx.Client,
        urls: Mapping[WebhookTarget, str],
        secret: Secret,
        clock: Clock,
    ) -> None:
        self._client = client
        self._urls = dict(urls)
        self._secret = secret
        self._clock = clock

    def send(self, body: bytes, target: WebhookTarget) -> AttemptResult:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(body, self._secret.reveal(), int(self._clock())),
        }
        try:
            response = self._client.post(self._urls[target], content=body, headers=headers)
        except httpx.HTTPError as error:
            return AttemptResult(error=_describe(error))
        return AttemptResult(status_code=response.status_code)


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}"[:_MAX_ERROR_LENGTH]
