"""WebSocket consumers."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

MAX_MESSAGE_BYTES = 64 * 1024


class PingConsumer(AsyncJsonWebsocketConsumer):
    """Answers `{"type": "ping"}` with a pong that has travelled through the channel layer.

    It carries no content, so anyone may connect; it lets monitoring and the tests prove that the
    WebSocket route, the session and the channel layer work end to end.
    """

    async def connect(self):
        self.group = f"ping.{self.channel_name.replace('!', '_')}"[:99]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if len(text_data or bytes_data or "") > MAX_MESSAGE_BYTES:
            await self.close(code=1009)
            return
        await super().receive(text_data, bytes_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "ping":
            await self.send_json({"type": "error", "error": 'expected {"type": "ping"}'})
            return
        await self.channel_layer.group_send(
            self.group, {"type": "pong.event", "payload": content.get("payload")}
        )

    async def pong_event(self, event):
        user = self.scope.get("user")
        await self.send_json(
            {
                "type": "pong",
                "payload": event["payload"],
                "authenticated": bool(user and user.is_authenticated),
            }
        )
