/** A tiny typed event emitter (no dependency, works in browsers, Node and Workers). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void {
    const set = this.handlers.get(event) ?? new Set();
    set.add(handler as (payload: never) => void);
    this.handlers.set(event, set);
    return () => set.delete(handler as (payload: never) => void);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const h of this.handlers.get(event) ?? []) {
      try {
        (h as (p: Events[K]) => void)(payload);
      } catch (err) {
        // A throwing listener must not break delivery to the others (or the connection's state).
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
