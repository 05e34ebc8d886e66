// chataudit web: the little that htmx does not do. No inline scripts (the CSP forbids them).
document.addEventListener("DOMContentLoaded", () => {
  // a permalink (#m123) lands on its message even under the sticky header
  const target = location.hash && document.querySelector(location.hash);
  if (target) target.scrollIntoView({ block: "center" });
});

// Upload forms take files dropped anywhere on them (the file input alone is a small target on a phone).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[enctype='multipart/form-data']").forEach((form) => {
    const input = form.querySelector("input[type=file]");
    if (!input) return;
    form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("dropping"); });
    form.addEventListener("dragleave", () => form.classList.remove("dropping"));
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      form.classList.remove("dropping");
      if (event.dataTransfer && event.dataTransfer.files.length) input.files = event.dataTransfer.files;
    });
  });
});
