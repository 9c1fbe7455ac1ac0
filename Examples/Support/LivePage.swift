/// What both sample apps' live pages share: the page around the app's own parts, its look, and the
/// loop that reads `/api/live` (waiting there for the next change) and calls the app's
/// `draw(live)` on every new version. Plain HTML, JavaScript and SVG; nothing fetched from elsewhere.
///
/// The loop keeps the versions it drew in `<body data-history>` and the latest in `data-version`,
/// which is how a test in a headless browser sees the page redraw; `el(name, attributes, text)`
/// makes an SVG element. Every answer updates `#state` and `#processed`, new versions or not.
public enum LivePage {
    public static func html(title: String, subtitle: String, style: String = "", body: String, script: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <style>
          body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2733; background: #f7f8fa; }
          h1 { font-size: 20px; margin: 0 0 4px; }
          .sub { color: #5b6776; margin-bottom: 16px; }
          .counters { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
          .counter { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
          .counter b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
          .state { font-weight: 600; } .state.running { color: #1a7f37; } .state.other { color: #b35900; }
          svg { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; }
          table { border-collapse: collapse; margin-top: 16px; background: #fff; }
          td, th { padding: 3px 10px; text-align: right; font-variant-numeric: tabular-nums; }
          th { color: #5b6776; font-weight: 500; }
          #problem { color: #b3261e; }
        \(style)
        </style>
        </head>
        <body data-version="-1" data-history="">
        <h1>\(title)</h1>
        <div class="sub">\(subtitle) State: <span id="state" class="state">connecting</span> <span id="problem"></span></div>
        \(body)
        <script>
        const svgNS = "http://www.w3.org/2000/svg";
        function el(name, attributes, text) {
          const node = document.createElementNS(svgNS, name);
          for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
          if (text !== undefined) node.textContent = text;
          return node;
        }
        function showState(live) {
          const state = document.getElementById("state");
          state.textContent = live.state;
          state.className = "state " + (live.state === "running" ? "running" : "other");
          const processed = document.getElementById("processed");
          if (processed) processed.textContent = live.processed;
        }
        \(script)
        let version = -1;
        const drawn = [];
        async function refresh() {
          try {
            const response = await fetch("/api/live" + (version >= 0 ? "?since=" + version : ""), { cache: "no-store" });
            if (!response.ok) throw new Error("HTTP " + response.status);
            const live = await response.json();
            document.getElementById("problem").textContent = "";
            showState(live);
            if (live.version !== version || drawn.length === 0) {
              draw(live);
              drawn.push(live.version);
              document.body.dataset.version = live.version;
              document.body.dataset.history = drawn.join(",");
            }
            version = live.version;
            setTimeout(refresh, 500);
          } catch (error) {
            document.getElementById("problem").textContent = "(" + error.message + "; retrying)";
            setTimeout(refresh, 2000);
          }
        }
        refresh();
        </script>
        </body>
        </html>
        """
    }
}
