/** workerpool with min = max thread workers (a fixed size), otherwise its defaults: `exec('echo', [value])`. */
import { fileURLToPath } from 'node:url'
import workerpool from 'workerpool'
import { workerUrl } from '../adapters.js'
import type { Contender } from './types.js'

export class WorkerpoolPool implements Contender {
  readonly name: string
  readonly #size: number
  #pool: ReturnType<typeof workerpool.pool> | undefined

  constructor(size: number) {
    this.#size = size
    this.name = `workerpool ×${size}`
  }

  async start(): Promise<void> {
    this.#pool = workerpool.pool(fileURLToPath(workerUrl('workerpool')), { minWorkers: this.#size, maxWorkers: this.#size, workerType: 'thread' })
    await Promise.all(Array.from({ length: this.#size * 4 }, () => this.call(0)))
  }

  call(value: unknown): Promise<unknown> {
    return this.#pool!.exec('echo', [value]) as unknown as Promise<unknown>
  }

  async stop(): Promise<void> {
    await this.#pool?.terminate()
  }
}
