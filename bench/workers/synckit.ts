/** synckit worker: the function `createSyncFn` calls blockingly from the main thread. */
import { runAsWorker } from 'synckit'

runAsWorker((value: unknown) => value)
