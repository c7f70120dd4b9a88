// A WebSocket that comes back: reconnects with exponential back-off and jitter, says how it is
// doing in a status element, and hands every JSON message to the page.

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export function liveSocket(path, { onOpen, onMessage, status }) {
  let socket = null;
  let attempt = 0;
  let heartbeat = null;
  let closedForGood = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}${path}`);
    socket.addEventListener("open", () => {
      attempt = 0;
      say("");
      heartbeat = setInterval(() => send({ type: "ping" }), 25000);
      onOpen(send);
    });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data), send);
      } catch (error) {
        console.error(error);
      }
    });
    socket.addEventListener("close", (event) => {
      clearInterval(heartbeat);
      if (event.code === 4403) {
        // Access withdrawn (signed out, suspended, moved out of reach): reload to find out why.
        closedForGood = true;
        say("Your access to this page has changed. Reload the page to continue.");
        return;
      }
      if (closedForGood) return;
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      say(`Live updates paused: reconnecting in ${Math.ceil(delay / 1000)} s…`);
      setTimeout(connect, delay);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  connect();
  return { send, isOpen: () => socket && socket.readyState === WebSocket.OPEN };
}
