// The headline example: a parent controlling a child process and a worker thread.
import { CancelledError, ChannelClosedError, spawnChild, spawnWorker } from 'treerpc'
import type { ChildApi } from './child.js'
import type { WorkerApi } from './worker.js'

const child = spawnChild<ChildApi>(new URL('./child.js', import.meta.url))
const worker = spawnWorker<WorkerApi>(new URL('./worker.js', import.meta.url))
await Promise.all([child.ready, worker.ready])

console.log('child  math.vector.norm([3, 4]) =', await child.remote.math.vector.norm([3, 4]))
console.log('worker text.shout("hi")         =', await worker.remote.text.shout('hi'))
console.log('worker text.stats.count(...)    =', await worker.remote.text.stats.count('two words'))
console.log('worker fib(25)                  =', await worker.remote.fib(25))

// Events from the child, and cancelling a slow call: the child's handler sees its signal abort.
child.peer.on('progress', (i: number, n: number) => console.log(`child progress ${i}/${n}`))
const slow = child.peer.call('jobs.crunch', [100])
setTimeout(() => slow.cancel(), 70)
try {
  await slow
} catch (error) {
  if (error instanceof CancelledError) console.log('slow call cancelled:', slow.state)
}

// The child dies mid-call: the call rejects at once with how it ended; the parent carries on.
try {
  await child.remote.crash()
} catch (error) {
  if (error instanceof ChannelClosedError) console.log(`child died: exit code ${error.exitCode}, signal ${error.signal}`)
}
console.log('child exited with', await child.exited)

console.log('worker still answers: fib(10) =', await worker.remote.fib(10))
console.log('worker closed with', await worker.close())
