// Attaching files, and showing images under a content warning.
//
// Forms marked data-attaching-form get a drop zone beside their file picker and a list of the
// chosen files, each with a remove button. When files are chosen the form is sent by
// XMLHttpRequest, so each file shows its upload progress; the server answers in JSON (the URL of
// the new post, or the messages of a refusal, shown here while the text and the files stay).
// A reply then appears through the thread's live connection like any other post. Without this
// script the form posts as a plain multipart form.
//
// "Show image" lifts the blur of an image with a content warning, or of any image for members
// who chose to blur them all; it works for posts that arrive live too (one listener for the page).

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-show-image]");
  if (!button) return;
  const item = button.closest("[data-attachment]");
  item.classList.add("attachment--shown");
  const link = item.querySelector(".attachment__frame a");
  link.removeAttribute("tabindex");
  link.focus();
});

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function setUpAttaching(form) {
  const picker = form.querySelector("input[type=file][name=attachments]");
  const zone = form.querySelector("[data-dropzone]");
  const list = form.querySelector("[data-attach-list]");
  const button = form.querySelector("button[type=submit]");
  const buttonText = button.textContent;
  let files = [];
  let rows = [];
  form.querySelector("[data-drop-hint]").hidden = false;

  function show() {
    const transfer = new DataTransfer();
    for (const file of files) transfer.items.add(file);
    picker.files = transfer.files;
    rows = files.map(row);
    list.replaceChildren(...rows.map((r) => r.item));
    list.hidden = files.length === 0;
  }

  function row(file, index) {
    const item = document.createElement("li");
    item.className = "attach__item";
    const name = document.createElement("span");
    name.className = "attach__name";
    name.textContent = `${file.name} (${formatSize(file.size)})`;
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", `Upload of ${file.name}`);
    const percent = document.createElement("span");
    percent.className = "attach__percent";
    percent.dataset.percent = "";
    percent.textContent = "";
    const note = document.createElement("span");
    note.className = "attach__note";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link-button";
    remove.textContent = "Remove";
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` ${file.name}`;
    remove.append(hidden);
    remove.addEventListener("click", () => {
      files = files.filter((_, other) => other !== index);
      show();
      picker.focus();
    });
    item.append(name, progress, percent, remove, note);
    return { item, progress, percent, note, file };
  }

  function add(chosen) {
    files = [...files, ...chosen];
    show();
  }

  picker.addEventListener("change", () => add([...picker.files]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("attach__zone--over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("attach__zone--over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("attach__zone--over");
    add([...event.dataTransfer.files]);
  });

  function showErrors(messages) {
    let box = form.querySelector("[data-attach-errors]");
    if (!box) {
      box = document.createElement("div");
      box.className = "error-summary";
      box.setAttribute("role", "alert");
      box.dataset.attachErrors = "";
      form.prepend(box);
    }
    const title = document.createElement("p");
    title.className = "error-summary__title";
    title.textContent = "There is a problem";
    const items = document.createElement("ul");
    for (const message of messages) {
      const entry = document.createElement("li");
      entry.textContent = message;
      items.append(entry);
    }
    const kept = document.createElement("p");
    kept.textContent = "Your text and files are still here: remove or change what was refused, then send again.";
    box.replaceChildren(title, items, kept);
    for (const r of rows) {
      const refusal = messages.find((message) => message.startsWith(`“${r.file.name}”`));
      r.note.textContent = refusal ? "Refused" : "";
      r.item.classList.toggle("attach__item--refused", Boolean(refusal));
      r.progress.value = 0;
      r.percent.textContent = "";
    }
  }

  function setProgress(fraction) {
    // The files are sent one after another, after the few short fields before them: the share
    // of the body sent tells how far each file has got.
    const total = files.reduce((sum, file) => sum + file.size, 0);
    let before = 0;
    for (const r of rows) {
      const done = Math.min(1, Math.max(0, (fraction * total - before) / (r.file.size || 1)));
      const value = Math.round(done * 100);
      if (r.progress.value !== value) {
        r.progress.value = value;
        r.percent.textContent = `${value}%`;
      }
      before += r.file.size;
    }
  }

  form.addEventListener("submit", (event) => {
    if (!files.length || event.defaultPrevented) return; // a plain post, or thread.js's socket
    event.preventDefault();
    const errors = form.querySelector("[data-attach-errors]");
    if (errors) errors.remove();
    const request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) setProgress(progress.loaded / progress.total);
    });
    request.addEventListener("load", () => {
      button.disabled = false;
      button.textContent = buttonText;
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        answer = {};
      }
      if (request.status === 200 && answer.url) {
        setProgress(1);
        if (!form.hasAttribute("data-reply-form")) {
          window.location.assign(answer.url);
          return;
        }
        form.querySelector("textarea").value = "";
        const quoted = form.querySelector("[name=quoted]");
        if (quoted) quoted.value = "";
        form.querySelector("[name=idempotency_key]").value = crypto.randomUUID();
        files = [];
        show();
        return;
      }
      const messages = answer.errors ? Object.values(answer.errors).flat() : [];
      showErrors(messages.length ? messages : [`The upload failed (${request.status}).`]);
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      button.textContent = buttonText;
      showErrors(["The connection failed before the files were sent."]);
    });
    button.disabled = true;
    button.textContent = "Uploading…";
    setProgress(0);
    request.send(new FormData(form));
  });
}

for (const form of document.querySelectorAll("[data-attaching-form]")) setUpAttaching(form);
