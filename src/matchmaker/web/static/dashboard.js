// The dashboard's charts (Apache ECharts, vendored); the data comes from the page (services.stats).
document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("dash-data").textContent);
  const L = data.labels;
  const charts = [];
  const draw = (id, option) => {
    const el = document.getElementById(id);
    if (!el) return;
    const chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(Object.assign({ animation: false, tooltip: {} }, option));
    charts.push(chart);
  };
  const grid = { left: 8, right: 16, top: 24, bottom: 8, containLabel: true };
  const roomyGrid = Object.assign({}, grid, { top: 40 }); // room for a legend or an axis name above the plot
  draw("chart-funnel", {
    series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "8%",
      label: { formatter: "{b}：{c}" }, data: data.funnel }],
  });
  draw("chart-sankey", {
    series: [{ type: "sankey", data: data.sankey.nodes, links: data.sankey.links, nodeAlign: "justify",
      emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", curveness: 0.5 } }],
  });
  draw("chart-chains", {
    grid, xAxis: { type: "value" }, yAxis: { type: "category", data: data.chains.names, inverse: true },
    series: [{ type: "bar", name: L.pairings, data: data.chains.values, label: { show: true, position: "right" } }],
  });
  draw("chart-stages", {
    grid: roomyGrid, xAxis: { type: "category", data: data.stages.names }, yAxis: { type: "value", name: L.hours },
    series: [{ type: "bar", name: L.hours, data: data.stages.values, label: { show: true, position: "top" } }],
  });
  draw("chart-managers", {
    grid: roomyGrid, legend: { top: 0 },
    xAxis: { type: "value" }, yAxis: { type: "category", data: data.managers.names },
    series: data.managers.series.map((s) => ({ type: "bar", stack: "all", name: s.name, data: s.values })),
  });
  draw("chart-bands", {
    grid: roomyGrid, legend: { top: 0 },
    xAxis: { type: "category", data: data.bands.names }, yAxis: { type: "value" },
    series: [
      { type: "bar", stack: "d", name: L.accepted, data: data.bands.accepted, itemStyle: { color: "#55a868" } },
      { type: "bar", stack: "d", name: L.rejected, data: data.bands.rejected, itemStyle: { color: "#c44e52" } },
    ],
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  document.body.dataset.chartsReady = String(charts.length);
});
