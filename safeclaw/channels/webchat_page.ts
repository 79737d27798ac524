/** The built-in WebChat page: one HTML file, no build step, talking to safeclaw over a WebSocket. */

/** The page served at `/`. */
export const WEBCHAT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>a3s WebChat</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: .6rem 1rem; background: #1f2937; color: #fff; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; }
  .msg { margin: .4rem 0; padding: .5rem .7rem; border-radius: .5rem; max-width: 75%; white-space: pre-wrap; }
  .user { background: #dbeafe; margin-left: auto; }
  .bot { background: #f3f4f6; }
  .error { background: #fee2e2; }
  form { display: flex; gap: .5rem; padding: .7rem; border-top: 1px solid #e5e7eb; }
  input { flex: 1; padding: .5rem; font: inherit; }
</style>
</head>
<body>
<header>a3s WebChat <small id="status">connecting…</small></header>
<div id="log" aria-live="polite"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="Message" aria-label="Message"><button id="send">Send</button></form>
<script>
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const user = localStorage.getItem("a3s-webchat-user") || crypto.randomUUID();
  localStorage.setItem("a3s-webchat-user", user);
  const url = new URL("/safeclaw/v1/webchat/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("user", user);
  const ws = new WebSocket(url);
  let current = null;
  function add(kind, text) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }
  ws.onopen = () => { status.textContent = "connected"; };
  ws.onclose = () => { status.textContent = "disconnected"; };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "delta") {
      if (!current) current = add("bot", "");
      current.textContent += msg.text;
    } else if (msg.type === "done") {
      if (current) current.dataset.done = "true";
      current = null;
    } else if (msg.type === "error") {
      add("error", msg.message);
      current = null;
    }
  };
  document.getElementById("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (!input.value.trim() || ws.readyState !== WebSocket.OPEN) return;
    add("user", input.value);
    ws.send(JSON.stringify({ type: "message", text: input.value }));
    input.value = "";
  });
</script>
</body>
</html>
`;
