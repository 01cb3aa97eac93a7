"""The OPC UA subscription of a line: its monitored items, and its publish responses as
sample batches.

asyncua's own delivery makes a task (or an iterator entry) per notification, which costs
more than everything the driver does with one; :class:`BatchSubscription` takes each
publish response whole, and :func:`batch_of` turns it into one batch for the sink.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.ua.status_codes import get_name_and_doc

from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.drivers.opcua.items import Item, code_quality

#: client handles start here (asyncua's own start at 200; ours never mix with them)
FIRST_HANDLE = 1

#: receives every publish response of a subscription
PublishReceiver = Callable[[ua.PublishResult], None]


class BatchSubscription(Subscription):
    """A subscription whose publish responses go whole to ``receiver``."""

    receiver: PublishReceiver

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        self.receiver(publish_result)


async def open_subscription(
    client: Client,
    items: Iterable[tuple[Item, bool]],
    interval: float | None,
    receiver: PublishReceiver,
    handles: dict[int, Item],
) -> tuple[BatchSubscription, dict[str, str]]:
    """A subscription with one monitored item per ``(item, numeric)``.

    ``handles`` (the caller's, emptied) is filled with client handle -> item before the
    items are created, since their first notifications may come before the answer;
    items the server refuses leave it again. ``interval``: the publishing interval (s);
    None: the fastest sampling interval. Returns the subscription and, per refused item's
    tag, the server's StatusCode.
    """
    listed = list(items)
    handles.clear()
    if interval is None:
        interval = max(0.01, min((item.sampling_interval for item, _ in listed), default=1.0))
    parameters = ua.CreateSubscriptionParameters()
    parameters.RequestedPublishingInterval = interval * 1000.0
    parameters.RequestedLifetimeCount = 10000
    parameters.RequestedMaxKeepAliveCount = client.get_keepalive_count(interval * 1000.0)
    parameters.MaxNotificationsPerPublish = 10000
    parameters.PublishingEnabled = True
    parameters.Priority = 0
    subscription = BatchSubscription(client.uaclient.session, parameters, None)
    subscription.receiver = receiver
    await subscription.init()
    numbered = {FIRST_HANDLE + index: entry for index, entry in enumerate(listed)}
    handles.update((handle, item) for handle, (item, _) in numbered.items())
    requests = [item.request(handle, numeric) for handle, (item, numeric) in numbered.items()]
    results = await subscription.create_monitored_items(requests) if requests else []
    refused: dict[str, str] = {}
    for (handle, (item, _)), result in zip(numbered.items(), results, strict=True):
        if isinstance(result, ua.StatusCode):
            # The server refused the item (unknown node, a filter it cannot apply).
            del handles[handle]
            refused[item.tag] = get_name_and_doc(result.value)[0]
    return subscription, refused


def refusal_samples(
    refused: Mapping[str, str], items: Mapping[str, Item], last: Mapping[str, Sample], now: float
) -> dict[str, Sample]:
    """BAD ``configuration error`` samples for the refused items, values kept."""
    samples: dict[str, Sample] = {}
    for tag, code in refused.items():
        item = items[tag]
        quality = Quality.bad(Reason.CONFIG_ERROR, f"{item.device}: {item.node}: {code}")
        old = last.get(tag)
        samples[tag] = Sample(old.value if old else None, quality, now, now)
    return samples


def batch_of(
    result: ua.PublishResult,
    handles: Mapping[int, Item],
    last: Mapping[str, Sample],
    now: float,
    device: str,
) -> dict[str, Sample]:
    """The samples of one publish response (before report by exception)."""
    batch: dict[str, Sample] = {}
    for notification in result.NotificationMessage.NotificationData or ():
        if isinstance(notification, ua.DataChangeNotification):
            for change in notification.MonitoredItems:
                item = handles.get(change.ClientHandle)
                if item is not None:
                    batch[item.tag] = item.sample(change.Value, now, last.get(item.tag))
        elif isinstance(notification, ua.StatusChangeNotification):
            # The subscription itself failed (e.g. BadTimeout): no value is current.
            quality = code_quality(notification.Status.value, device)
            for item in handles.values():
                old = last.get(item.tag)
                if old is not None:
                    batch[item.tag] = old.degraded(quality, now)
    return batch
