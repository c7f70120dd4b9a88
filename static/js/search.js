// Progressive enhancement of the library search page: facet links, chips, sorting and paging
// update the results in place (the URL still changes, so state stays shareable and Back works);
// the search box suggests titles as you type. Without JavaScript every link and form still works.

const results = document.querySelector("[data-search-results]");
// The filters fold away on narrow screens so results come first; wide screens show them beside.
const wide = window.matchMedia("(min-width: 52.01rem)");

function filterPanel() {
  return document.querySelector("[data-filter-panel]");
}

function openFiltersWhenWide() {
  const panel = filterPanel();
  if (panel && wide.matches) panel.open = true;
}

async function show(url, push) {
  const response = await fetch(url, { headers: { "X-Requested-With": "search" } });
  if (!response.ok) {
    window.location.assign(url);
    return;
  }
  // Someone choosing filters one after another keeps the panel open between choices.
  const wasOpen = Boolean(filterPanel()?.open);
  results.innerHTML = await response.text();
  const panel = filterPanel();
  if (panel) panel.open = wasOpen || wide.matches;
  if (push) history.pushState({ search: true }, "", url);
  const query = new URL(url, window.location.href).searchParams.get("q") || "";
  const box = document.getElementById("search-q");
  if (box && document.activeElement !== box) box.value = query;
}

function formUrl(form) {
  const url = new URL(form.action || window.location.href, window.location.href);
  url.search = new URLSearchParams(new FormData(form)).toString();
  return url.toString();
}

if (results) {
  openFiltersWhenWide();
  wide.addEventListener("change", openFiltersWhenWide);
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-search-link]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(link.href, true);
  });
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-search-form]");
    if (!form) return;
    event.preventDefault();
    show(formUrl(form), true);
  });
  window.addEventListener("popstate", () => show(window.location.href, false));
}

const box = document.querySelector("input[data-autocomplete]");
if (box) {
  const list = document.createElement("datalist");
  list.id = "search-suggestions";
  box.after(list);
  box.setAttribute("list", list.id);
  let timer;
  let controller;
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = box.value.trim();
      if (text.length < 2) return;
      controller?.abort();
      controller = new AbortController();
      try {
        const url = `${box.dataset.autocomplete}?q=${encodeURIComponent(text)}`;
        const response = await fetch(url, { signal: controller.signal });
        const data = await response.json();
        list.replaceChildren(
          ...data.suggestions.map((suggestion) => {
            const option = document.createElement("option");
            option.value = suggestion.label;
            return option;
          }),
        );
      } catch (error) {
        if (error.name !== "AbortError") list.replaceChildren();
      }
    }, 150);
  });
}

// Opening a result is counted for the editors' search analytics, once per search shown, by a
// request that carries no cookie and no referrer: the count knows nobody.
let countedOpening = "";
document.addEventListener("click", (event) => {
  const list = event.target.closest(".result-list a")?.closest("[data-opened-url]");
  if (!list || countedOpening === list.dataset.openedUrl) return;
  countedOpening = list.dataset.openedUrl;
  fetch(list.dataset.openedUrl, {
    method: "POST",
    credentials: "omit",
    referrerPolicy: "no-referrer",
    keepalive: true,
  }).catch(() => {});
});
