// The stores the views share, fed by a kernel (./table_store.js: the job rows;
// ./metrics_panel.js: the curves): their subscribers, and the ordering of
// snapshots and numbered patches.

/** The views subscribed to a store: `subscribe(fn)` (returns the unsubscribe),
 * `emit(event)` calls each, a failing view logged without stopping the others. */
export class Subscribers {
  constructor(what) {
    this.subscribers = new Set();
    this.what = what; // named in the log of a failing view
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(event) {
    for (const fn of [...this.subscribers]) {
      try {
        fn(event);
      } catch (error) {
        console.error(`xpm_nb: ${this.what} failed`, error);
      }
    }
  }
}

const RESYNC_MS = 5000; // at most one "sync" request in this time, while none is answered

/**
 * A store fed by a kernel with a snapshot, then patches numbered `seq` (1, 2, ...;
 * a snapshot's is that of the last patch it includes): its subscribers, its
 * `seq`, and `resync()`, which asks the kernel for everything again (one request
 * at a time, asked again after RESYNC_MS if unanswered; never without a kernel).
 *
 * `synced`: what is held is complete (a snapshot came, and no patch was missed
 * since). Answers may come out of order (the monitoring page's polls and its
 * "sync" request are separate HTTP requests): a patch may come before the
 * snapshot asked earlier, which is then older than what is held. Such a snapshot
 * is not applied (it would undo the patch); a store not synced asks again.
 */
export class SyncedStore extends Subscribers {
  constructor(what) {
    super(what);
    this.live = true; // false once the kernel is gone: nothing is sent then
    this.send = null; // the model's send
    this.seq = null; // `seq` of the last snapshot or patch applied (null: none numbered yet)
    this.synced = false;
    this.syncAsked = 0; // when a "sync" was last sent (ms), 0 once answered
    this.retry = null; // the timer asking again when an answer is late
  }

  resync() {
    if (!this.live || !this.send) return;
    const now = Date.now();
    if (this.syncAsked && now - this.syncAsked < RESYNC_MS) {
      if (this.retry === null) {
        this.retry = setTimeout(() => {
          this.retry = null;
          if (!this.synced) this.resync();
        }, this.syncAsked + RESYNC_MS - now);
      }
      return;
    }
    this.syncAsked = now;
    this.send({ type: "sync" });
  }

  /** Whether to apply a snapshot numbered `seq` (see above). */
  takesSnapshot(seq) {
    if (seq === null || this.seq === null || seq >= this.seq) return true;
    this.syncAsked = 0; // answered, if too late
    if (!this.synced) this.resync();
    return false;
  }

  /** A snapshot numbered `seq` was applied: complete up to it. */
  snapshotTaken(seq) {
    if (seq !== null) this.seq = seq;
    this.syncAsked = 0;
    this.synced = true;
  }

  /** Where a patch numbered `seq` falls: "old" (already held), "next", or "gap" (one was missed). */
  patchPlace(seq) {
    if (seq === null || this.seq === null) return "next";
    if (seq <= this.seq) return "old";
    return seq > this.seq + 1 ? "gap" : "next";
  }

  /** A patch was missed (or held a change of a row not here): ask for everything. */
  missed() {
    this.synced = false;
    this.resync();
  }
}
