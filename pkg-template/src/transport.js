// The WebSocket to the hub: binary frames, reconnection with capped exponential backoff and
// jitter, an immediate retry when the browser comes back online.

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10000;

export class Transport {
  /**
   * @param {string} url ws:// or wss:// URL of the hub
   * @param {{ onFrame(bytes: Uint8Array): void, onOpen(): void, onClose(reason: string): void }} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.state = "disconnected";
    this.backoff = MIN_BACKOFF_MS;
    this.timer = null;
    this.stopped = false;
    this.onOnline = () => this.retryNow();
    globalThis.addEventListener?.("online", this.onOnline);
  }

  start() {
    this.stopped = false;
    this.dial();
  }

  dial() {
    if (this.stopped || this.ws) return;
    this.state = "connecting";
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.closed(`cannot connect: ${e?.message ?? e}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.state = "connected";
      this.backoff = MIN_BACKOFF_MS;
      this.handlers.onOpen();
    };
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) this.handlers.onFrame(new Uint8Array(e.data));
    };
    ws.onclose = (e) => {
      if (this.ws === ws) this.closed(e.reason || `closed (${e.code})`);
    };
    ws.onerror = () => {};
  }

  closed(reason) {
    const wasOpen = this.state === "connected";
    this.ws = null;
    this.state = "disconnected";
    this.handlers.onClose(reason, wasOpen);
    if (this.stopped) return;
    const delay = this.backoff * (0.5 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dial(), delay);
  }

  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.backoff = MIN_BACKOFF_MS;
    this.dial();
  }

  /** Sends a frame; false when there is no open connection (the core retransmits). */
  send(bytes) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(bytes);
    return true;
  }

  /** Drops the current connection (it reconnects). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    ws.close();
    this.closed("dropped");
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    globalThis.removeEventListener?.("online", this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this.state = "disconnected";
  }
}
