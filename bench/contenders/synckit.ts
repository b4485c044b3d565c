/**
 * synckit: `createSyncFn` runs the worker's function blockingly from the main thread. It has no stop:
 * its worker is unref'd and ends with the process.
 */
import { createSyncFn } from 'synckit'
import { workerUrl } from '../adapters.js'
import type { Contender } from './types.js'

export class Synckit implements Contender {
  readonly name = 'synckit'
  #fn: ((value: unknown) => unknown) | undefined

  async start(): Promise<void> {
    this.#fn = createSyncFn<(value: unknown) => unknown>(workerUrl('synckit'))
    this.#fn(0)
  }

  call(value: unknown): Promise<unknown> {
    return Promise.resolve(this.callSync(value))
  }

  callSync(value: unknown): unknown {
    return this.#fn!(value)
  }

  async stop(): Promise<void> {
    this.#fn = undefined
  }
}
