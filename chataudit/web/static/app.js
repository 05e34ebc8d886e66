// chataudit web: the little that htmx does not do. No inline scripts (the CSP forbids them).
document.addEventListener("DOMContentLoaded", () => {
  // a permalink (#m123) lands on its message even under the sticky header
  const target = location.hash && document.querySelector(location.hash);
  if (target) target.scrollIntoView({ block: "center" });
});
