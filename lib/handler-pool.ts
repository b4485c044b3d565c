/** An item the pool can run; `dropped` marks one taken out of the queue before it ran. */
export interface PoolItem {
  dropped: boolean
}

/**
 * Runs at most `concurrency` items at once and keeps at most `maxQueue` waiting. It limits incoming
 * requests and notifications only: replies, cancels and events never pass through it, so two peers
 * calling each other cannot deadlock on it.
 */
export class HandlerPool<T extends PoolItem> {
  readonly #concurrency: number
  readonly #maxQueue: number
  readonly #run: (item: T) => void
  #queue: (T | undefined)[] = []
  #head = 0
  #active = 0
  #queued = 0
  /** A release is starting queued items: a release from inside one of them only frees its slot. */
  #draining = false

  constructor(concurrency: number, maxQueue: number, run: (item: T) => void) {
    this.#concurrency = concurrency
    this.#maxQueue = maxQueue
    this.#run = run
  }

  get active(): number {
    return this.#active
  }

  get queued(): number {
    return this.#queued
  }

  /** Runs the item now, or queues it. False when the pool and its queue are full: the item was not taken. */
  submit(item: T): boolean {
    if (this.#active < this.#concurrency) {
      this.#active++
      this.#run(item)
      return true
    }
    if (this.#queued >= this.#maxQueue) return false
    this.#queue.push(item)
    this.#queued++
    return true
  }

  /** Takes a queued item out before it runs (its caller cancelled). */
  drop(item: T): void {
    if (item.dropped) return
    item.dropped = true
    this.#queued--
  }

  /** A running item finished: frees its slot and starts the next queued one. */
  release(): void {
    this.#active--
    // Synchronous handlers release while they are being started: starting the next one from there
    // would nest one stack frame per queued item (a stack overflow behind a long queue).
    if (this.#draining) return
    this.#draining = true
    try {
      while (this.#active < this.#concurrency && this.#queued > 0) {
        const item = this.#queue[this.#head]!
        this.#queue[this.#head++] = undefined
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head)
          this.#head = 0
        }
        if (item.dropped) continue
        this.#queued--
        this.#active++
        this.#run(item)
      }
    } finally {
      this.#draining = false
    }
    if (this.#queued === 0 && this.#head > 0) {
      this.#queue = []
      this.#head = 0
    }
  }

  /** Drops everything queued (the channel closed); running items finish on their own. */
  clear(): T[] {
    const items: T[] = []
    for (let i = this.#head; i < this.#queue.length; i++) {
      const item = this.#queue[i]
      if (item !== undefined && !item.dropped) {
        item.dropped = true
        items.push(item)
      }
    }
    this.#queue = []
    this.#head = 0
    this.#queued = 0
    return items
  }
}
