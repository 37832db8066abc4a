// Each tick is compressed and flushed on its own, so it shows the moment it is sent.
const clock = document.getElementById("clock");
const source = new EventSource("/sse/clock");
source.addEventListener("tick", (e) => { clock.textContent = e.data; });
source.onerror = () => { clock.textContent = "reconnecting"; };

// A token stream read with fetch(): the chunks arrive (and decompress) one by one.
(async () => {
  const out = document.getElementById("tokens");
  const response = await fetch("/stream/tokens");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out.textContent += value;
  }
})();
