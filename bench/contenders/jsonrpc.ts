/**
 * vscode-jsonrpc 8: a MessageConnection over a worker_threads Worker (its PortMessageReader/Writer)
 * and over child-process IPC (IPCMessageReader/Writer). No transfer lists: binary is copied.
 */
import type { ChildProcess } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, type MessageConnection, PortMessageReader, PortMessageWriter } from 'vscode-jsonrpc/node.js'
import { forkChild, type Serialization, stopChild, workerUrl } from '../adapters.js'
import type { Contender } from './types.js'

abstract class JsonRpcBase implements Contender {
  abstract readonly name: string
  protected connection: MessageConnection | undefined

  abstract start(): Promise<void>
  abstract stop(): Promise<void>

  call(value: unknown): Promise<unknown> {
    return this.connection!.sendRequest('echo', value)
  }

  notify(value: unknown): void {
    void this.connection!.sendNotification('sink', value)
  }

  count(): Promise<number> {
    return this.connection!.sendRequest<number>('count')
  }

  protected dispose(): void {
    this.connection?.dispose()
    this.connection = undefined
  }
}

export class JsonRpcWorker extends JsonRpcBase {
  readonly name = 'vscode-jsonrpc'
  #worker: Worker | undefined

  async start(): Promise<void> {
    const worker = (this.#worker = new Worker(workerUrl('jsonrpc')))
    this.connection = createMessageConnection(new PortMessageReader(worker), new PortMessageWriter(worker))
    this.connection.listen()
    await this.call(0)
  }

  async stop(): Promise<void> {
    this.dispose()
    await this.#worker?.terminate()
  }
}

export class JsonRpcChild extends JsonRpcBase {
  readonly name: string
  readonly #serialization: Serialization
  #child: ChildProcess | undefined

  constructor(serialization: Serialization) {
    super()
    this.#serialization = serialization
    this.name = `vscode-jsonrpc (${serialization})`
  }

  async start(): Promise<void> {
    const child = (this.#child = forkChild(workerUrl('jsonrpc'), this.#serialization))
    this.connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child))
    this.connection.listen()
    await this.call(0)
  }

  async stop(): Promise<void> {
    this.dispose()
    await stopChild(this.#child)
  }
}
