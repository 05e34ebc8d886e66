// Compare page: the HTML report (written by the server into data-report) downloaded as a file.
document.addEventListener("DOMContentLoaded", () => {
  const link = document.getElementById("cmp-download");
  if (!link) return;
  const url = URL.createObjectURL(new Blob([link.dataset.report], { type: "text/html;charset=utf-8" }));
  link.href = url;
});
