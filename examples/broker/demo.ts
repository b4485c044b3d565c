// `npm run demo:broker`: two members of one service and a caller, as they would run on three hosts
// (here, three processes on this machine), through a private RabbitMQ node this script starts.
// Set TREERPC_AMQP_URL to use a RabbitMQ you already run instead.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { connectBroker } from 'treerpc/amqp'
import type { ImagesApi } from './images.js'
import { type PrivateNode, rabbitmqInstalled, startPrivateNode } from './private-node.js'

let node: PrivateNode | undefined
let url = process.env.TREERPC_AMQP_URL
if (url === undefined) {
  if (!rabbitmqInstalled()) {
    console.error('This demo needs RabbitMQ. Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server),')
    console.error('or run one (docker run -p 5672:5672 rabbitmq:3) and set TREERPC_AMQP_URL=amqp://127.0.0.1:5672.')
    process.exit(1)
  }
  console.log('starting a private RabbitMQ node...')
  node = await startPrivateNode()
  url = node.url
}

// "Host" A and "host" B: one member each.
const members = [0, 1].map(() => fork(new URL('./images.js', import.meta.url), [url!], { stdio: 'inherit' }))
await Promise.all(members.map((member) => once(member, 'message')))

// "Host" C: the caller.
const broker = await connectBroker(url)
const images = broker.client<ImagesApi>('images', { timeout: 5000 })
try {
  console.log('members:', (await images.members()).map((m) => `${m.host}/${m.pid}`).join(', '))

  const bytes = new Uint8Array(64).map((_, i) => i)
  const done = await Promise.all(Array.from({ length: 8 }, () => images.remote.img.thumb(bytes)))
  console.log(`8 thumbnails of ${done[0]!.bytes.length} bytes, made by members`, [...new Set(done.map((t) => t.by))].join(' and '))

  images.notify('stats.reset') // to one member, no reply

  images.on('progress', (pid: number, i: number, n: number) => console.log(`progress from ${pid}: ${i}/${n}`))
  console.log('img.batch(3) =', await images.remote.img.batch(3))

  const slow = images.call('img.batch', [50])
  setTimeout(() => slow.cancel(), 250)
  await slow.catch((error: unknown) => console.log('cancelled on the member that ran it:', (error as Error).name))
} finally {
  await broker.close()
  for (const member of members) member.disconnect()
  await Promise.all(members.map((member) => once(member, 'exit')))
  await node?.stop()
}
