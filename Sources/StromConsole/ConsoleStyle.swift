/// The console's styles: system fonts, one accent colour, tables that scroll sideways on a phone
/// rather than squeeze, and status colours that also carry a word (never colour alone).
enum ConsoleStyle {
    static let css = """
        :root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#f6f7f9;--card:#fff;--accent:#2457c5;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.6rem 1rem;background:#10243e;color:#fff}
        .brand{font-weight:700;letter-spacing:.02em}nav{display:flex;flex-wrap:wrap;gap:.25rem}
        nav a{color:#c9d6ea;text-decoration:none;padding:.2rem .55rem;border-radius:4px}nav a[aria-current=page]{background:#2457c5;color:#fff}
        .where{margin-left:auto;color:#9fb2cc;font-size:.85rem}
        main{padding:1rem;max-width:1200px;margin:0 auto}h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.75rem}
        .card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.7rem .85rem}
        .card .value{font-size:1.5rem;font-weight:600}.card .label{color:var(--muted);font-size:.85rem}
        .scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{text-align:left;padding:.45rem .7rem;border-bottom:1px solid var(--line);white-space:nowrap}
        th{font-size:.8rem;color:var(--muted);font-weight:600;background:#fafbfc}tr:last-child td{border-bottom:0}td.num,th.num{text-align:right}
        .ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad);font-weight:600}.muted{color:var(--muted)}
        a{color:var(--accent)}form.filter{display:flex;gap:.5rem;margin:0 0 .75rem}input,button{font:inherit;padding:.35rem .55rem;border:1px solid var(--line);border-radius:4px}
        button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
        figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem}figcaption{color:var(--muted);font-size:.85rem;margin-bottom:.3rem}
        svg{display:block;width:100%;height:auto}.pager{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin:.6rem 0;color:var(--muted)}
        form.change{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.5rem .75rem;margin:.5rem 0;padding:.7rem .85rem;background:var(--card);border:1px solid var(--line);border-radius:6px}
        header form.change{margin:0;padding:0;background:none;border:0}header form.change button{padding:.15rem .5rem;font-size:.85rem}
        label{display:flex;flex-direction:column;gap:.15rem;font-size:.85rem;color:var(--muted);max-width:100%}
        select,textarea{font:inherit;padding:.35rem .55rem;border:1px solid var(--line);border-radius:4px;background:#fff;max-width:100%}
        textarea{min-width:min(24rem,80vw);min-height:4.5rem;font-family:ui-monospace,monospace;font-size:.85rem}input{max-width:100%}
        button.danger{background:var(--bad);border-color:var(--bad)}.notice{padding:.5rem .75rem;border-radius:6px;background:var(--card);border:1px solid var(--line)}
        pre{margin:0;white-space:pre-wrap;word-break:break-all;font:12.5px/1.4 ui-monospace,monospace;max-width:60rem}td pre{min-width:12rem}
        td.wrap{white-space:normal}td div pre{display:inline}details summary{cursor:pointer;color:var(--accent)}
        """
}
