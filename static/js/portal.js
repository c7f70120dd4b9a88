// Every portal page: the live notification count, thread lists and moderation queue that refresh
// themselves, the Markdown preview and @mention suggestions, and confirmations. Without
// JavaScript the pages, forms and links work the same, just without the live parts.

import { csrfToken, liveSocket } from "./live.js";

const unread = document.querySelector("[data-unread-count]");
const liveList = document.querySelector("[data-live-list]");
const queue = document.querySelector("[data-moderation-queue]");
let refreshTimer = null;

async function refresh(selector) {
  // Re-read this page and swap in the fresh part: the server renders, the policy applies.
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector(selector);
  const current = document.querySelector(selector);
  if (fresh && current) current.replaceWith(fresh);
}

function refreshSoon(selector) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh(selector), 500);
}

liveSocket("/ws/portal/", {
  onOpen(send) {
    if (liveList && liveList.dataset.watch) {
      send({ type: "watch", categories: liveList.dataset.watch.split(",").map(Number) });
    }
  },
  onMessage(message) {
    if (message.type === "notification" && unread) {
      unread.hidden = message.unread === 0;
      unread.firstChild.textContent = message.unread;
    } else if (message.type === "list.changed" && liveList) {
      refreshSoon("[data-thread-list]");
    } else if (message.type === "queue.changed" && queue) {
      refreshSoon("[data-moderation-queue]");
    }
  },
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

for (const editor of document.querySelectorAll("[data-editor]")) {
  const textarea = editor.querySelector("textarea");
  const preview = editor.querySelector("[data-preview]");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "button button--secondary button--small";
  toggle.textContent = "Preview";
  toggle.setAttribute("aria-expanded", "false");
  // Beside the form's submit button, so "Preview" and posting sit side by side.
  const actions = editor.closest("form")?.querySelector("[data-editor-actions]");
  if (actions) {
    toggle.classList.remove("button--small");
    actions.prepend(toggle);
  } else {
    textarea.after(toggle);
  }
  toggle.addEventListener("click", async () => {
    const showing = preview.hidden;
    toggle.setAttribute("aria-expanded", String(showing));
    toggle.textContent = showing ? "Hide preview" : "Preview";
    preview.hidden = !showing;
    if (!showing) return;
    const body = new FormData();
    body.append("source", textarea.value);
    body.append("csrfmiddlewaretoken", csrfToken());
    const response = await fetch(editor.dataset.previewUrl, { method: "POST", body });
    preview.innerHTML = response.ok ? await response.text() : "<p>The preview is not available.</p>";
  });
  mentionSuggestions(editor, textarea);
}

function mentionSuggestions(editor, textarea) {
  const box = document.createElement("ul");
  box.className = "mention-suggestions";
  box.id = `${textarea.id}-mentions`;
  box.setAttribute("role", "listbox");
  box.setAttribute("aria-label", "Members to mention");
  box.hidden = true;
  textarea.after(box);
  textarea.setAttribute("aria-controls", box.id);
  let active = -1;
  let items = [];

  function prefixAtCaret() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const match = before.match(/(?:^|\s)@([\w.-]{1,40})$/);
    return match ? match[1] : null;
  }

  function close() {
    box.hidden = true;
    items = [];
    active = -1;
    textarea.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    const prefix = prefixAtCaret();
    if (prefix === null || !items[index]) return close();
    const caret = textarea.selectionStart;
    const start = caret - prefix.length;
    textarea.setRangeText(`${items[index].handle} `, start, caret, "end");
    close();
    textarea.focus();
  }

  function highlight(index) {
    active = index;
    [...box.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    textarea.setAttribute("aria-activedescendant", `${box.id}-${index}`);
  }

  let latest = 0;
  textarea.addEventListener("input", async () => {
    // Answers can arrive out of order (one request per keystroke): only the newest one counts,
    // or a slow answer for "@m" would replace the one for "@mod".
    const request = ++latest;
    const prefix = prefixAtCaret();
    if (!prefix) return close();
    const url = new URL(editor.dataset.mentionsUrl, window.location.href);
    url.searchParams.set("q", prefix);
    const response = await fetch(url);
    if (request !== latest) return;
    if (!response.ok) return close();
    const members = (await response.json()).members;
    if (request !== latest) return;
    items = members;
    if (!items.length) return close();
    box.replaceChildren(
      ...items.map((member, index) => {
        const li = document.createElement("li");
        li.id = `${box.id}-${index}`;
        li.setAttribute("role", "option");
        li.textContent = `@${member.handle} (${member.name})`;
        li.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(index);
        });
        return li;
      }),
    );
    box.hidden = false;
    highlight(0);
  });

  textarea.addEventListener("keydown", (event) => {
    if (box.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + items.length) % items.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      close();
    }
  });
  textarea.addEventListener("blur", close);
}
