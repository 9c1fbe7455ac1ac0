import ExampleSupport

/// The appointment-funnel app's live page, served at `/` with `--http-port`: a funnel chart of the
/// appointments that reached each stage, for all clinics or one region, and the busiest clinics.
enum FunnelPage {
    static let html = LivePage.html(
        title: "Rill · appointment funnel", subtitle: "Appointments that reached each stage.",
        style: #"""
              #regions button { margin: 0 6px 10px 0; padding: 4px 12px; border: 1px solid #b8c2cc; background: #fff; border-radius: 14px; cursor: pointer; }
              #regions button.on { background: #3b82c4; color: #fff; border-color: #3b82c4; }
              td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; }
            """#,
        body: #"""
            <div class="counters">
              <div class="counter">processed<b id="processed">-</b></div>
              <div class="counter">appointments<b id="appointments">-</b></div>
              <div class="counter">clinics<b id="clinic-count">-</b></div>
              <div class="counter">dead letters<b id="dead-letters">-</b></div>
            </div>
            <div id="regions"></div>
            <svg id="funnel" width="720" height="330" viewBox="0 0 720 330" role="img" aria-label="appointments per stage"></svg>
            <table><thead><tr><th>clinic</th><th>name</th><th>region</th><th>appointments</th><th>completed</th></tr></thead><tbody id="clinics"></tbody></table>
            """#,
        script: #"""
            const stages = ["requested", "scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"];
            const colors = ["#2e4057", "#3b82c4", "#00798c", "#66a182", "#1a7f37", "#d1495b", "#edae49"];
            let region = "all", last = null;
            function percent(value, base) { return base > 0 ? Math.round(100 * value / base) + "%" : "-"; }

            function draw(live) {
              last = live;
              const view = live.view;
              document.getElementById("appointments").textContent = view.total.appointments;
              document.getElementById("clinic-count").textContent = view.clinics.length;
              document.getElementById("dead-letters").textContent = view.deadLetters;

              const buttons = document.getElementById("regions");
              buttons.replaceChildren();
              for (const name of ["all", ...view.regions.map(r => r.region)]) {
                const button = document.createElement("button");
                button.textContent = name;
                button.className = name === region ? "on" : "";
                button.onclick = () => { region = name; draw(last); };
                buttons.appendChild(button);
              }
              const chosen = region === "all" ? view.total : (view.regions.find(r => r.region === region) || view.total);
              const funnel = document.getElementById("funnel");
              funnel.replaceChildren();
              const base = chosen.stages.requested, width = 440, middle = 360, row = 44;
              stages.forEach((stage, i) => {
                const count = chosen.stages[stage] || 0;
                const w = Math.max(2, base > 0 ? width * count / base : 0);
                const y = 12 + i * row;
                funnel.appendChild(el("rect", { x: middle - w / 2, y, width: w, height: row - 10, rx: 3, fill: colors[i], "data-stage": stage }));
                funnel.appendChild(el("text", { x: 8, y: y + 22, "font-size": 13, fill: "#1d2733" }, stage.replace("_", " ")));
                funnel.appendChild(el("text", { x: 712, y: y + 22, "text-anchor": "end", "font-size": 13, fill: "#1d2733", id: "stage-" + stage },
                  count + " (" + percent(count, base) + ")"));
              });

              const rows = document.getElementById("clinics");
              rows.replaceChildren();
              const busiest = view.clinics.slice().sort((a, b) => b.appointments - a.appointments || a.clinicId.localeCompare(b.clinicId));
              for (const clinic of busiest.filter(c => region === "all" || c.region === region).slice(0, 12)) {
                const row = document.createElement("tr");
                row.dataset.clinic = clinic.clinicId;
                for (const text of [clinic.clinicId, clinic.clinicName, clinic.region, clinic.appointments, percent(clinic.stages.completed, clinic.appointments)]) {
                  const cell = document.createElement("td");
                  cell.textContent = text;
                  row.appendChild(cell);
                }
                rows.appendChild(row);
              }
            }
            """#)
}
