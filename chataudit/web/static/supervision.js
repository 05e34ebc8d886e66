// The supervision report's charts (Apache ECharts, vendored): hits per period stacked by group, and
// the false-positive rate per rule. The data is #sup-charts[data-charts], built by the server.
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("sup-charts");
  if (!holder || !window.echarts) return;
  const data = JSON.parse(holder.dataset.charts);
  const charts = [];
  holder.querySelectorAll(".chart").forEach((element) => {
    const spec = data[element.dataset.chart];
    if (!spec) return;
    const chart = echarts.init(element, null, { renderer: "svg" });
    const grid = { left: 40, right: 16, top: 24, bottom: 64, containLabel: true };
    if (element.dataset.chart === "hits") {
      chart.setOption({
        tooltip: { trigger: "axis" }, legend: { bottom: 0, type: "scroll" }, grid,
        xAxis: { type: "category", data: spec.x }, yAxis: { type: "value", minInterval: 1 },
        series: spec.series.map((s) => ({ name: s.name, type: "bar", stack: "hits", data: s.data })),
      });
    } else {
      chart.setOption({
        tooltip: { trigger: "axis", valueFormatter: (v) => `${v}%` }, grid,
        xAxis: { type: "category", data: spec.x, axisLabel: { rotate: 30 } },
        yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
        series: [{ name: holder.dataset.fpLabel, type: "bar", data: spec.data }],
      });
    }
    charts.push(chart);
  });
  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
});
