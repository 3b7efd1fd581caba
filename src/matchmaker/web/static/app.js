// Small behaviours of the pages; HTMX does the partial updates. No framework, no build step.
document.addEventListener("click", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    document.querySelectorAll(all.dataset.selectAll).forEach((box) => { box.checked = all.checked; });
  }
});
