/**
 * birpc with its default options (60 s timeout per call), over a worker_threads Worker and over
 * child-process IPC. Its `post` hook takes no transfer list: binary is copied.
 */
import type { ChildProcess } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { type BirpcReturn, createBirpc } from 'birpc'
import { forkChild, type Serialization, stopChild, workerUrl } from '../adapters.js'
import type { BirpcBenchApi } from '../workers/birpc.js'
import type { Contender } from './types.js'

type Rpc = BirpcReturn<BirpcBenchApi, Record<string, never>>

abstract class BirpcBase implements Contender {
  abstract readonly name: string
  protected rpc: Rpc | undefined

  abstract start(): Promise<void>
  abstract stop(): Promise<void>

  call(value: unknown): Promise<unknown> {
    return this.rpc!.echo(value)
  }

  notify(value: unknown): void {
    void this.rpc!.$callEvent('sink', value)
  }

  count(): Promise<number> {
    return this.rpc!.count()
  }
}

export class BirpcWorker extends BirpcBase {
  readonly name = 'birpc'
  #worker: Worker | undefined

  async start(): Promise<void> {
    const worker = (this.#worker = new Worker(workerUrl('birpc')))
    this.rpc = createBirpc<BirpcBenchApi, Record<string, never>>({}, {
      post: (data) => worker.postMessage(data),
      on: (fn) => void worker.on('message', fn),
      off: (fn) => void worker.off('message', fn),
    })
    await this.call(0)
  }

  async stop(): Promise<void> {
    this.rpc?.$close()
    await this.#worker?.terminate()
  }
}

export class BirpcChild extends BirpcBase {
  readonly name: string
  readonly #serialization: Serialization
  #child: ChildProcess | undefined

  constructor(serialization: Serialization) {
    super()
    this.#serialization = serialization
    this.name = `birpc (${serialization})`
  }

  async start(): Promise<void> {
    const child = (this.#child = forkChild(workerUrl('birpc'), this.#serialization))
    this.rpc = createBirpc<BirpcBenchApi, Record<string, never>>({}, {
      post: (data) => void child.send(data),
      on: (fn) => void child.on('message', fn),
      off: (fn) => void child.off('message', fn),
    })
    await this.call(0)
  }

  async stop(): Promise<void> {
    this.rpc?.$close()
    await stopChild(this.#child)
  }
}
