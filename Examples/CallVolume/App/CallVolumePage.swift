import ExampleSupport

/// The call-volume app's live page, served at `/` with `--http-port`: inbound calls per clinic per
/// minute as a chart of the busiest clinics and a table, finals and dead letters counted. The
/// finals it drew are kept in `<body data-finals-history>`.
enum CallVolumePage {
    static let html = LivePage.html(
        title: "Rill · call volume", subtitle: "Inbound calls started per clinic per minute.",
        style: #"""
              td:first-child, th:first-child { text-align: left; }
              .bar { height: 10px; background: #3b82c4; border-radius: 2px; }
              .legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
            """#,
        body: #"""
            <div class="counters">
              <div class="counter">processed<b id="processed">-</b></div>
              <div class="counter">finals emitted<b id="finals">-</b></div>
              <div class="counter">late records dropped<b id="dropped">-</b></div>
              <div class="counter">dead letters<b id="dead-letters">-</b></div>
              <div class="counter">clinics<b id="clinic-count">-</b></div>
            </div>
            <svg id="chart" width="820" height="300" viewBox="0 0 820 300" role="img" aria-label="calls per minute, busiest clinics"></svg>
            <div class="legend" id="legend"></div>
            <table><thead><tr><th>clinic</th><th>this minute</th><th>last minute</th><th></th></tr></thead><tbody id="clinics"></tbody></table>
            """#,
        script: #"""
            const colors = ["#3b82c4", "#d1495b", "#00798c", "#edae49", "#66a182", "#8d5a97", "#2e4057", "#f18f01"];
            const finalsDrawn = [];
            function clock(ms) { return new Date(ms).toISOString().substring(11, 16); }

            function draw(live) {
              const view = live.view;
              document.getElementById("dropped").textContent = live.dropped;
              document.getElementById("finals").textContent = view.finals;
              document.getElementById("dead-letters").textContent = view.deadLetters;
              document.getElementById("clinic-count").textContent = view.clinics.length;

              const n = view.minutes.length;
              const last = c => c.calls[n - 1] || 0, before = c => c.calls[n - 2] || 0;
              const busiest = view.clinics.slice().sort((a, b) => last(b) - last(a) || a.clinicId.localeCompare(b.clinicId));
              const shown = busiest.slice(0, colors.length);
              const chart = document.getElementById("chart");
              chart.replaceChildren();
              const left = 44, right = 800, top = 14, bottom = 270;
              const max = Math.max(1, ...shown.flatMap(c => c.calls));
              const x = i => left + (n > 1 ? i * (right - left) / (n - 1) : 0);
              const y = v => bottom - v * (bottom - top) / max;
              for (let k = 0; k <= 4; k++) {
                const v = Math.round(max * k / 4);
                chart.appendChild(el("line", { x1: left, x2: right, y1: y(v), y2: y(v), stroke: "#eef1f4" }));
                chart.appendChild(el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6776" }, v));
              }
              view.minutes.forEach((start, i) => {
                if (i % 2 === (n - 1) % 2) chart.appendChild(el("text", { x: x(i), y: bottom + 18, "text-anchor": "middle", "font-size": 11, fill: "#5b6776" }, clock(start)));
              });
              const legend = document.getElementById("legend");
              legend.replaceChildren();
              shown.forEach((clinic, k) => {
                const points = clinic.calls.map((v, i) => x(i) + "," + y(v)).join(" ");
                chart.appendChild(el("polyline", { points, fill: "none", stroke: colors[k], "stroke-width": 2, "data-clinic": clinic.clinicId }));
                const item = document.createElement("span");
                const swatch = document.createElement("i");
                swatch.style.background = colors[k];
                item.append(swatch, clinic.clinicId);
                legend.appendChild(item);
              });

              const rows = document.getElementById("clinics");
              rows.replaceChildren();
              const most = Math.max(1, ...busiest.map(last));
              for (const clinic of busiest) {
                const row = document.createElement("tr");
                row.dataset.clinic = clinic.clinicId;
                for (const text of [clinic.clinicId, last(clinic), before(clinic)]) {
                  const cell = document.createElement("td");
                  cell.textContent = text;
                  row.appendChild(cell);
                }
                const cell = document.createElement("td");
                const bar = document.createElement("div");
                bar.className = "bar";
                bar.style.width = Math.round(200 * last(clinic) / most) + "px";
                cell.appendChild(bar);
                row.appendChild(cell);
                rows.appendChild(row);
              }
              finalsDrawn.push(view.finals);
              document.body.dataset.finalsHistory = finalsDrawn.join(",");
            }
            """#)
}
