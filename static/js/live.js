// A WebSocket that comes back: reconnects with exponential back-off and jitter, says how it is
// doing in a status element, and hands every JSON message to the page.

// The longest frame the server reads (portal.consumers.MAX_MESSAGE_BYTES). It counts characters;
// a JavaScript string's length is never fewer.
export const MAX_FRAME_LENGTH = 64 * 1024;
// A connection counts as working once it has stayed open this long; until then every close grows
// the wait before the next attempt, so a server that accepts and closes at once is not hammered.
const STABLE_MS = 10000;
const PAUSED_WHILE_CONNECTED =
  "Live updates paused: new posts will appear within a minute, or when you reload the page.";

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export function liveSocket(path, { onOpen, onMessage, status }) {
  let socket = null;
  let attempt = 0;
  let heartbeat = null;
  let stable = null;
  let closedForGood = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}${path}`);
    socket.addEventListener("open", () => {
      say("");
      stable = setTimeout(() => (attempt = 0), STABLE_MS);
      heartbeat = setInterval(() => send({ type: "ping" }), 25000);
      onOpen(send);
    });
    socket.addEventListener("message", (event) => {
      try {
        const message = JSON.parse(event.data);
        if (message.type === "pong" && "live" in message) {
          // The server is there but cannot pass on other people's changes (its Redis is away):
          // they arrive with the heartbeats instead, until it says live again.
          say(message.live ? "" : PAUSED_WHILE_CONNECTED);
        }
        // The page shows what it can tie to something on it (a refused reply, beside the reply
        // box) and returns true; any other refusal is said here.
        if (!onMessage(message, send) && message.type === "error") say(message.message);
      } catch (error) {
        console.error(error);
      }
    });
    socket.addEventListener("close", (event) => {
      clearInterval(heartbeat);
      clearTimeout(stable);
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
