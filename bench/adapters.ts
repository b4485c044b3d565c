/**
 * Small glue shared by contenders and their workers: comlink endpoints over Node channels (a Worker or
 * MessagePort, and a child-process IPC channel), and starting/stopping forked children.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Endpoint } from 'comlink'

type Listener = (event: { data: unknown }) => void
type NodeListener = (data: unknown) => void

interface Target {
  on(event: 'message', listener: NodeListener): unknown
  off(event: 'message', listener: NodeListener): unknown
}

/** A comlink Endpoint over a Node emitter of 'message' whose payload is the data itself (not an event). */
function endpoint(target: Target, post: (message: unknown, transfer?: readonly unknown[]) => void): Endpoint {
  const wrapped = new Map<unknown, NodeListener>()
  const ep = {
    postMessage: post,
    addEventListener(_type: string, listener: unknown) {
      const fn: NodeListener =
        typeof listener === 'function' ? (data) => (listener as Listener)({ data }) : (data) => (listener as { handleEvent: Listener }).handleEvent({ data })
      wrapped.set(listener, fn)
      target.on('message', fn)
    },
    removeEventListener(_type: string, listener: unknown) {
      const fn = wrapped.get(listener)
      if (fn === undefined) return
      wrapped.delete(listener)
      target.off('message', fn)
    },
  }
  return ep as unknown as Endpoint
}

/** Over a worker_threads Worker or MessagePort: transfer lists honoured. */
export function portEndpoint(port: Target & { postMessage(message: unknown, transfer?: readonly any[]): void }): Endpoint {
  return endpoint(port, (message, transfer) => port.postMessage(message, transfer as never))
}

/** Over child-process IPC (either side): transfer lists ignored, everything is copied. */
export function ipcEndpoint(channel: Target & { send?(message: unknown, handle?: undefined, options?: object, callback?: (error: Error | null) => void): boolean; connected?: boolean }): Endpoint {
  // With a callback, a send on a channel that just closed (comlink answering its release) fails quietly there.
  return endpoint(channel, (message) => {
    if (channel.connected !== false) channel.send!(message, undefined, {}, ignore)
  })
}

const ignore = (): void => {}

export type Serialization = 'json' | 'advanced'

/** Forks a bench child with an IPC channel of the given serialization; its output goes to ours. */
export function forkChild(url: URL, serialization: Serialization): ChildProcess {
  return fork(fileURLToPath(url), [], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

/** Disconnects the child (bench children exit once their channel is gone), killing it if it lingers. */
export async function stopChild(child: ChildProcess | undefined, graceMs = 3000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  if (child.connected) child.disconnect()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs)
  })
  const outcome = await Promise.race([exited, late])
  clearTimeout(timer)
  if (outcome === 'late') {
    child.kill('SIGKILL')
    await exited
  }
}

/** URL of a compiled bench worker entry (bench/workers/<name>.ts → <outDir>/bench/workers/<name>.js). */
export function workerUrl(name: string): URL {
  return new URL(`./workers/${name}.js`, import.meta.url)
}
