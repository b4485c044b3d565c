/** piscina with min = max threads (a fixed size), otherwise its defaults: `run(value)` of a default-export task. */
import { Piscina } from 'piscina'
import { workerUrl } from '../adapters.js'
import type { Contender } from './types.js'

export class PiscinaPool implements Contender {
  readonly name: string
  readonly #size: number
  #pool: Piscina | undefined

  constructor(size: number) {
    this.#size = size
    this.name = `piscina ×${size}`
  }

  async start(): Promise<void> {
    this.#pool = new Piscina({ filename: workerUrl('pool-task').href, minThreads: this.#size, maxThreads: this.#size })
    await Promise.all(Array.from({ length: this.#size * 4 }, () => this.call(0)))
  }

  call(value: unknown): Promise<unknown> {
    return this.#pool!.run(value)
  }

  async stop(): Promise<void> {
    await this.#pool?.destroy()
  }
}
