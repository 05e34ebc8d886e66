// The quality dashboard's charts (Apache ECharts, vendored). The data is the page's
// #charts[data-charts] (small series built by the server, never the session rows); a click on a
// point loads the sessions behind it into #drill, as the figures' links do.
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("charts");
  if (!holder || !window.echarts) return;
  const data = JSON.parse(holder.dataset.charts);
  const labels = JSON.parse(holder.dataset.labels || "{}");
  const job = holder.dataset.job;
  const redact = holder.dataset.redact ? "&redact=true" : "";
  const name = (key) => labels[key] || key;
  const drill = (query) => {
    const url = `/quality/jobs/${job}/sessions?${new URLSearchParams(query)}${redact}`;
    if (window.htmx) {
      htmx.ajax("GET", url, { target: "#drill", swap: "innerHTML" });
      document.getElementById("drill").scrollIntoView({ block: "start" });
    } else {
      location.href = url;
    }
  };
  const charts = [];
  holder.querySelectorAll(".chart").forEach((element) => {
    const spec = data[element.dataset.chart];
    if (!spec) return;
    const chart = echarts.init(element, null, { renderer: "svg" });
    let option;
    if (spec.radar) {
      option = {
        tooltip: {}, legend: { bottom: 0, data: spec.series.map((s) => name(s.name)) },
        radar: { indicator: spec.radar.map((d) => ({ name: d.name, max: d.max })), radius: "60%" },
        series: [{ type: "radar", data: spec.series.map((s) => ({ name: name(s.name), value: s.data })) }],
      };
    } else {
      const axes = Math.max(...spec.series.map((s) => s.axis || 0));
      option = {
        tooltip: { trigger: "axis" }, legend: { bottom: 0, type: "scroll" },
        grid: { left: 48, right: 48 + (axes > 1 ? 40 : 0), top: 24, bottom: 64, containLabel: true },
        xAxis: { type: "category", data: spec.x.map(String) },
        yAxis: [0, 1, 2].slice(0, axes + 1).map((i) => ({
          type: "value", position: i === 0 ? "left" : "right", offset: i === 2 ? 48 : 0,
          max: i === 2 ? 1 : undefined, splitLine: { show: i === 0 },
        })),
        series: spec.series.map((s) => ({ name: name(s.name), type: s.type, yAxisIndex: s.axis || 0, data: s.data,
                                          connectNulls: true })),
      };
    }
    chart.setOption(option);
    chart.on("click", (event) => {
      const query = spec.radar ? spec.drill[0] : spec.drill[event.dataIndex];
      if (query) drill(query);
    });
    charts.push(chart);
  });
  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
});
