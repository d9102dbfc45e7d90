/** http-load.ts measureEndpointsApart's other half: measures what its argument says, prints the results as JSON. */
import { measureEndpoints, type Endpoint, type LoadTarget } from './http-load.js';

const { target, endpoints, seconds } = JSON.parse(process.argv[2] ?? '{}') as { target: LoadTarget; endpoints: Endpoint[]; seconds: number };
process.stdout.write(JSON.stringify(await measureEndpoints(target, endpoints, seconds)));
