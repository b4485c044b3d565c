/**
 * comlink: `wrap` of an endpoint over a worker_threads Worker (transfers via `Comlink.transfer`) and,
 * through a small endpoint adapter, over child-process IPC (copies). comlink has no one-way message:
 * every call gets a reply.
 */
import type { ChildProcess } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import * as Comlink from 'comlink'
import { forkChild, ipcEndpoint, portEndpoint, type Serialization, stopChild, workerUrl } from '../adapters.js'
import type { BenchApi, Contender } from './types.js'

abstract class ComlinkBase implements Contender {
  abstract readonly name: string
  readonly noNotify = 'no one-way messages: every call has a reply'
  protected remote: Comlink.Remote<BenchApi> | undefined

  abstract start(): Promise<void>
  abstract stop(): Promise<void>

  call(value: unknown): Promise<unknown> {
    return this.remote!.echo(value)
  }

  protected release(): void {
    this.remote?.[Comlink.releaseProxy]()
    this.remote = undefined
  }
}

export class ComlinkWorker extends ComlinkBase {
  readonly name = 'comlink'
  #worker: Worker | undefined

  async start(): Promise<void> {
    this.#worker = new Worker(workerUrl('comlink'))
    this.remote = Comlink.wrap<BenchApi>(portEndpoint(this.#worker))
    await this.call(0)
  }

  echoBinary(bytes: Uint8Array): Promise<Uint8Array> {
    return this.remote!.echoBin(Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]))
  }

  async stop(): Promise<void> {
    this.release()
    await this.#worker?.terminate()
  }
}

export class ComlinkChild extends ComlinkBase {
  readonly name: string
  readonly #serialization: Serialization
  #child: ChildProcess | undefined

  constructor(serialization: Serialization) {
    super()
    this.#serialization = serialization
    this.name = `comlink (${serialization})`
  }

  async start(): Promise<void> {
    this.#child = forkChild(workerUrl('comlink'), this.#serialization)
    this.remote = Comlink.wrap<BenchApi>(ipcEndpoint(this.#child))
    await this.call(0)
  }

  async stop(): Promise<void> {
    this.release()
    await stopChild(this.#child)
  }
}
