/**
 * treerpc over each of its Node channels, with default options throughout: spawnWorker
 * (worker_threads), spawnChild (json and advanced IPC), createPool, and blocking calls (remoteSync).
 */
import { createPool, type Pool, spawnChild, spawnWorker, transfer, type ChildHandle, type WorkerHandle } from '../../lib/index.js'
import { type Serialization, workerUrl } from '../adapters.js'
import type { TreerpcBenchApi } from '../workers/treerpc.js'
import type { Contender } from './types.js'

export class TreerpcWorker implements Contender {
  readonly name: string
  #handle: WorkerHandle<TreerpcBenchApi> | undefined

  constructor(name = 'treerpc spawnWorker') {
    this.name = name
  }

  get handle(): WorkerHandle<TreerpcBenchApi> {
    return this.#handle!
  }

  async start(): Promise<void> {
    this.#handle = spawnWorker<TreerpcBenchApi>(workerUrl('treerpc'))
    await this.#handle.ready
    await this.call(0)
  }

  call(value: unknown): Promise<unknown> {
    return this.#handle!.remote.echo(value)
  }

  echoBinary(bytes: Uint8Array): Promise<Uint8Array> {
    return this.#handle!.remote.echoBin(transfer(bytes, [bytes.buffer as ArrayBuffer]))
  }

  notify(value: unknown): void {
    this.#handle!.peer.notify('sink', value)
  }

  emit(value: unknown): void {
    this.#handle!.peer.emit('tick', value)
  }

  count(): Promise<number> {
    return this.#handle!.remote.count()
  }

  callSync(value: unknown): unknown {
    return this.#handle!.remoteSync.echo(value)
  }

  async stop(): Promise<void> {
    await this.#handle?.close()
  }
}

export class TreerpcChild implements Contender {
  readonly name: string
  readonly #serialization: Serialization
  #handle: ChildHandle<TreerpcBenchApi> | undefined

  constructor(serialization: Serialization) {
    this.#serialization = serialization
    this.name = `treerpc spawnChild (${serialization})`
  }

  async start(): Promise<void> {
    this.#handle = spawnChild<TreerpcBenchApi>(workerUrl('treerpc'), { serialization: this.#serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await this.#handle.ready
    await this.call(0)
  }

  call(value: unknown): Promise<unknown> {
    return this.#handle!.remote.echo(value)
  }

  notify(value: unknown): void {
    this.#handle!.peer.notify('sink', value)
  }

  emit(value: unknown): void {
    this.#handle!.peer.emit('tick', value)
  }

  count(): Promise<number> {
    return this.#handle!.remote.count()
  }

  async stop(): Promise<void> {
    await this.#handle?.close()
  }
}

export class TreerpcPool implements Contender {
  readonly name: string
  readonly #size: number
  #pool: Pool<TreerpcBenchApi> | undefined

  constructor(size: number) {
    this.#size = size
    this.name = `treerpc createPool ×${size}`
  }

  async start(): Promise<void> {
    this.#pool = createPool<TreerpcBenchApi>(workerUrl('treerpc'), { size: this.#size })
    await this.#pool.ready
    await Promise.all(Array.from({ length: this.#size * 2 }, () => this.call(0)))
  }

  call(value: unknown): Promise<unknown> {
    return this.#pool!.remote.echo(value)
  }

  async stop(): Promise<void> {
    await this.#pool?.close()
  }
}
