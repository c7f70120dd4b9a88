// A thread, live. The page embeds the last change number it rendered; the socket resumes from it,
// the server replays what happened since, then streams. Every message names the change sent
// before it ("previous"): if that is not what we hold, something was missed and we resume again.
// Replies sent over the socket carry an idempotency key, so resending after a drop never posts
// twice; a reply the server refused is never resent. Without a socket, or for a reply too long
// for one frame, the form posts normally.

import { MAX_FRAME_LENGTH, csrfToken, liveSocket } from "./live.js";

const state = JSON.parse(document.getElementById("thread-live").textContent);
const list = document.querySelector("[data-post-list]");
const announcer = document.querySelector("[data-announcer]");
const presence = document.querySelector("[data-presence]");
const typing = document.querySelector("[data-typing]");
const form = document.querySelector("[data-reply-form]");
let last = state.after;
let pending = null; // the reply waiting for the server's "posted": {key, source, quoted}
let resyncing = false; // reading the thread afresh: changes that arrive meanwhile are in it
let typingTimer = null;
let typingAuthor = null; // whose "is typing…" shows: their post, when it arrives, ends it

function stopTyping() {
  clearTimeout(typingTimer);
  typing.textContent = "";
  typingAuthor = null;
}

function personalise(root) {
  // Live posts are rendered once for everyone; show the author's own controls here.
  for (const element of root.querySelectorAll("[data-author-only]")) {
    element.hidden = element.dataset.authorOnly !== String(state.user);
  }
  for (const element of root.querySelectorAll("[data-not-author]")) {
    element.hidden = element.dataset.notAuthor === String(state.user);
  }
  for (const postForm of root.querySelectorAll("form[method=post]")) {
    if (!postForm.querySelector("input[name=csrfmiddlewaretoken]")) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "csrfmiddlewaretoken";
      input.value = csrfToken();
      postForm.prepend(input);
    }
  }
}

function showPost(message) {
  const template = document.createElement("template");
  template.innerHTML = message.html.trim();
  const article = template.content.firstElementChild;
  personalise(template.content);
  const existing = document.getElementById(`post-${message.number}`);
  if (existing) {
    existing.replaceWith(article);
  } else if (state.on_last_page) {
    list.append(article);
    const author = article.querySelector(".post__by strong");
    announcer.textContent = `New post by ${author ? author.textContent : "a member"}.`;
  } else {
    document.querySelector("[data-new-posts]").hidden = false;
  }
}

// The server's answer when this page holds changes the thread does not have (the page is from
// before the thread was restored from a backup): read the thread afresh and resume from there.
// If it cannot be read, follow the server from where the thread is.
async function resync(change, send) {
  if (resyncing) return;
  resyncing = true;
  let after = change;
  try {
    const response = await fetch(window.location.href, { cache: "no-store", headers: { Accept: "text/html" } });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const freshList = fresh.querySelector("[data-post-list]");
    const freshState = fresh.getElementById("thread-live");
    if (response.ok && freshList && freshState) {
      personalise(freshList);
      list.replaceChildren(...freshList.children);
      after = JSON.parse(freshState.textContent).after;
    }
  } catch (error) {
    console.error(error);
  }
  last = after;
  resyncing = false;
  send({ type: "resume", after: last });
}

// Returns true for an error it has shown beside the reply box.
function onMessage(message, send) {
  if (resyncing && ["post", "skip", "caught_up"].includes(message.type)) return false;
  switch (message.type) {
    case "post":
    case "skip":
      if (message.previous !== last) {
        send({ type: "resume", after: last });
        return;
      }
      if (message.type === "post") {
        showPost(message);
        showReplyCount(message.reply_count);
        if (message.author_id === typingAuthor) stopTyping();
      }
      last = message.change;
      break;
    case "caught_up":
      last = Math.max(last, message.change);
      if (pending) send({ type: "post", ...pending });
      break;
    case "resync":
      resync(message.change, send);
      break;
    case "posted":
      if (pending && message.key === pending.key) {
        pending = null;
        form.querySelector("textarea").value = "";
        form.querySelector("[name=quoted]").value = "";
        setBusy(false);
      }
      break;
    case "error":
      // A refused reply (its key), or a socket-wide "slow down" that swallowed it (no key). It is
      // not sent again; its text stays in the box to be changed and posted anew.
      if (pending && (message.key === pending.key || message.code === "rate")) {
        pending = null;
        setBusy(false);
        showFormError(message.message);
        return true;
      }
      return Boolean(message.key); // a reply answered already
    case "presence":
      presence.textContent = `${message.count} member${message.count === 1 ? "" : "s"} viewing`;
      break;
    case "typing":
      typing.textContent = ` · ${message.name} is typing…`;
      typingAuthor = message.user;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, 5000);
      break;
    case "thread":
      for (const badge of document.querySelectorAll("[data-locked]")) badge.hidden = !message.thread.locked;
      showReplyCount(message.thread.reply_count);
      break;
  }
  return false;
}

function showReplyCount(count) {
  document.querySelector("[data-reply-count]").textContent = `${count} repl${count === 1 ? "y" : "ies"}`;
}

function setBusy(busy) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = busy;
  button.textContent = busy ? "Posting…" : "Post reply";
}

function showFormError(text) {
  let box = form.querySelector("[data-live-error]");
  if (!box) {
    box = document.createElement("p");
    box.className = "notice notice--error";
    box.setAttribute("role", "alert");
    box.dataset.liveError = "";
    form.prepend(box);
  }
  box.textContent = text;
}

personalise(document);
const socket = liveSocket(state.socket, {
  status: document.querySelector("[data-live-status]"),
  onOpen: (send) => send({ type: "resume", after: last }),
  onMessage,
});

if (form) {
  const keyField = form.querySelector("[name=idempotency_key]");
  keyField.value = crypto.randomUUID();
  form.addEventListener("submit", (event) => {
    const source = form.querySelector("textarea").value;
    const error = form.querySelector("[data-live-error]");
    if (error) error.remove();
    // Counted as the server counts: characters, not UTF-16 units, without surrounding spaces.
    const length = [...source.trim()].length;
    if (length > state.max_post_length) {
      event.preventDefault();
      showFormError(
        `Your post is ${length.toLocaleString("en")} characters long; the limit is ` +
          `${state.max_post_length.toLocaleString("en")}. Please shorten it.`,
      );
      return;
    }
    const attaching = form.querySelector("input[type=file]")?.files.length;
    // The plain form post, or with files the upload of attachments.js.
    if (attaching || !socket.isOpen() || !source.trim() || !state.on_last_page) return;
    const reply = { key: keyField.value, source, quoted: Number(form.querySelector("[name=quoted]").value) || null };
    if (JSON.stringify({ type: "post", ...reply }).length > MAX_FRAME_LENGTH) return; // the form post has room
    event.preventDefault();
    pending = reply;
    keyField.value = crypto.randomUUID();
    setBusy(true);
    socket.send({ type: "post", ...pending });
  });
  let lastTyping = 0;
  form.querySelector("textarea").addEventListener("input", () => {
    if (Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      socket.send({ type: "typing" });
    }
  });
}
