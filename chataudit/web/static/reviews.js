// The Reviews report's chart (Apache ECharts, vendored): self, peer, automatic and customer scores
// per agent on 0-10, from #four-scores[data-rows] (the report's `agents`, as the API returns them).
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("four-scores");
  if (!holder || !window.echarts) return;
  const rows = JSON.parse(holder.dataset.rows || "[]");
  const labels = JSON.parse(holder.dataset.labels || "{}");
  const chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    tooltip: { trigger: "axis" }, legend: { bottom: 0, type: "scroll" },
    grid: { left: 40, right: 16, top: 24, bottom: 64, containLabel: true },
    xAxis: { type: "category", data: rows.map((r) => r.name || r.agent), axisLabel: { interval: 0, rotate: rows.length > 4 ? 30 : 0 } },
    yAxis: { type: "value", min: 0, max: 10 },
    series: ["self", "peer", "auto", "csat"].map((key) => ({ name: labels[key] || key, type: "bar", data: rows.map((r) => r[key]) })),
  });
  window.addEventListener("resize", () => chart.resize());
});
