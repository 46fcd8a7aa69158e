// The DOM's CustomEvent where Node.js lacks it (Node 18; a global since 19).
//
// @waku/sds dispatches every event as `new CustomEvent(...)`. Without the
// global the constructor throws inside the library's task loop, which
// swallows the error: messages decode but are never delivered, and no
// listener hears anything. Import this module before @waku/sds (modules are
// evaluated in import order) so the library finds the global when it runs.

export const customEvent = typeof globalThis.CustomEvent === "function" ? "native" : "polyfill";

if (customEvent === "polyfill") {
  // As the DOM standard defines it: an Event with a read-only `detail`
  // (null by default) and the legacy initCustomEvent.
  class CustomEvent extends Event {
    #detail;

    constructor(type, eventInitDict = {}) {
      super(type, eventInitDict);
      this.#detail = eventInitDict?.detail ?? null;
    }

    get detail() {
      return this.#detail;
    }

    initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
      this.initEvent(type, bubbles, cancelable);
      this.#detail = detail;
    }
  }
  Object.defineProperty(CustomEvent.prototype, Symbol.toStringTag, {
    value: "CustomEvent",
    configurable: true
  });
  Object.defineProperty(globalThis, "CustomEvent", {
    value: CustomEvent,
    writable: true,
    configurable: true,
    enumerable: false
  });
}
