"""Thread events, handed out inside each server process.

A thread's events are published once to the channel layer (portal.events.thread_event). Each
server process listens to a thread once, however many of its sockets show it, and gives every
event to each of those sockets itself, in one pass. Through Channels' per-consumer path every
socket would instead take each event from its own queue in its own task and wait, about 0.15 ms
a socket: a post reaching 500 sockets on one process waited ~80 ms for the last of them
(bench/realtime.py).

Sockets take an event synchronously (`ThreadConsumer.thread_event`) and write it through their
own outbox, so a socket whose client reads slowly holds up nobody else.
"""

import asyncio
import logging
import weakref

from channels.layers import get_channel_layer

from portal import events

logger = logging.getLogger(__name__)

_by_loop = weakref.WeakKeyDictionary()


def current():
    """The fan-out of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop[loop] = Fanout(get_channel_layer())
    return _by_loop[loop]


class Fanout:
    def __init__(self, layer):
        self.layer = layer
        self.viewers = {}  # thread id -> the sockets of this process showing it
        self.channel = None
        self.listener = None
        self.starting = asyncio.Lock()

    async def add(self, thread_id, socket):
        """Start handing the thread's events to the socket. Returns once the channel layer
        delivers the thread's group here, so nothing published after it is missed."""
        await self.start()
        self.viewers.setdefault(thread_id, set()).add(socket)
        # Every socket waits for the subscription: the layer subscribes once and serialises
        # subscribing and unsubscribing, so a quick leave-and-join keeps its order.
        await self.layer.group_add(events.thread_group(thread_id), self.channel)

    async def remove(self, thread_id, socket):
        viewers = self.viewers.get(thread_id)
        if viewers is None or socket not in viewers:
            return
        viewers.discard(socket)
        if viewers:
            return
        del self.viewers[thread_id]
        await self.layer.group_discard(events.thread_group(thread_id), self.channel)
        if not self.viewers and self.listener is not None:
            # Nobody left to listen for: the layer drops the channel when its receive ends.
            self.listener.cancel()
            self.listener = self.channel = None

    async def start(self):
        async with self.starting:
            if self.listener is None:
                self.channel = await self.layer.new_channel()
                self.listener = asyncio.get_running_loop().create_task(self.listen(self.channel))

    async def listen(self, channel):
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the layer reconnects; sockets catch up at heartbeat
                logger.warning("channel layer unavailable: thread events paused", exc_info=True)
                await asyncio.sleep(1)
                continue
            for socket in list(self.viewers.get(message.get("thread_id"), ())):
                try:
                    socket.thread_event(message)
                except Exception:  # one socket's failure must not stop the others' events
                    logger.exception("thread event failed for one socket")
