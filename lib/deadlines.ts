/** Longest delay a timer can have (2^31-1 ms, about 24.8 days); longer timeouts mean none. */
export const MAX_TIMEOUT = 2_147_483_647

/** Something with a deadline, in `Date.now()` milliseconds. */
export interface Timed {
  deadline: number
  timeout: number
}

/**
 * Many deadlines, one timer. Items sharing a timeout value expire in the order they were added, so
 * each timeout value keeps its items in a Set (insertion-ordered, O(1) delete) and only the heads
 * matter: the single timer is armed for the earliest head. Adding a call costs a Set insertion, not
 * a timer; the timer is cleared as soon as nothing is left, so it never outlives the last item.
 *
 * Timers and clocks are read at call time, so fake timers (sinon) reach them.
 */
export class Deadlines<T extends Timed> {
  readonly #groups = new Map<number, Set<T>>()
  readonly #onExpire: (item: T) => void
  #count = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedFor = Infinity

  constructor(onExpire: (item: T) => void) {
    this.#onExpire = onExpire
  }

  /** Items waiting for their deadline. */
  get size(): number {
    return this.#count
  }

  add(item: T, timeout: number): void {
    item.timeout = timeout
    item.deadline = Date.now() + timeout
    let group = this.#groups.get(timeout)
    if (group === undefined) {
      group = new Set()
      this.#groups.set(timeout, group)
    }
    group.add(item)
    this.#count++
    if (item.deadline < this.#armedFor) this.#arm(item.deadline)
  }

  delete(item: T): void {
    const group = this.#groups.get(item.timeout)
    if (group === undefined || !group.delete(item)) return
    if (group.size === 0) this.#groups.delete(item.timeout)
    if (--this.#count === 0) this.#disarm()
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#armedFor = deadline
    const timer = setTimeout(this.#fire, Math.max(0, deadline - Date.now()))
    if (typeof timer === 'object') timer.unref?.()
    this.#timer = timer
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedFor = Infinity
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#armedFor = Infinity
    const now = Date.now()
    const expired: T[] = []
    let next = Infinity
    for (const [timeout, group] of this.#groups) {
      for (const item of group) {
        if (item.deadline > now) {
          if (item.deadline < next) next = item.deadline
          break
        }
        group.delete(item)
        this.#count--
        expired.push(item)
      }
      if (group.size === 0) this.#groups.delete(timeout)
    }
    if (next !== Infinity) this.#arm(next)
    for (const item of expired) this.#onExpire(item)
  }
}
