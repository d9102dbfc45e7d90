// Job requests refused in-process: lookups of unknown jobs, bad waits, event cursors and list
// filters, and cancelling a job that has finished.
import t from 'tap';
import { checkProblemCases, invalidField, startApp, type ProblemCase } from '../helpers/app.js';

const app = await startApp(t);

// A label delete that selects no VM is a real job that needs no host tool: it finishes at once.
const started = await app.inject('DELETE', '/vms?label=fixture=none');
if (started.status !== 202) throw new Error(`DELETE /vms?label=fixture=none: ${started.status} ${started.text}`);
const finished = await app.inject('GET', `/jobs/${started.body.id}?wait=10`);
if (finished.body.status !== 'succeeded') throw new Error(`the fixture job did not succeed: ${finished.text}`);
const job = finished.body;

const invalid = (path: string, field: string) => invalidField('GET', path, field);
const unknownJob = (method: string, path: string): ProblemCase => ({ name: `${method} ${path}`, method, path, status: 404, code: 'job-not-found', detail: /0000000000000000/ });

t.test('bad job requests are refused and change no job', async (t) => {
  await checkProblemCases(t, app, [
    invalid(`/jobs/${job.id}?wait=61`, 'querystring.wait'),
    invalid(`/jobs/${job.id}?wait=-1`, 'querystring.wait'),
    invalid(`/jobs/${job.id}?wait=soon`, 'querystring.wait'),
    invalid(`/jobs/${job.id}/events?lastEventId=-1`, 'querystring.lastEventId'),
    invalid(`/jobs/${'0'.repeat(65)}`, 'params.id'),
    unknownJob('GET', '/jobs/0000000000000000'),
    unknownJob('GET', '/jobs/0000000000000000/events'),
    unknownJob('POST', '/jobs/0000000000000000/cancel'),
    { name: 'cancel a finished job', method: 'POST', path: `/jobs/${job.id}/cancel`, status: 409, code: 'job-finished', detail: /already succeeded/ },

    invalid('/jobs?status=bogus', 'querystring.status'),
    invalid('/jobs?targetType=disk', 'querystring.targetType'),
    invalid(`/jobs?kind=${'k'.repeat(65)}`, 'querystring.kind'),
    invalid('/jobs?limit=0', 'querystring.limit'),
    invalid('/jobs?limit=501', 'querystring.limit'),
    invalid('/jobs?colour=red', 'querystring.colour'),
    invalid('/jobs?cursor=garbage', 'querystring.cursor'),
    invalid(`/jobs?cursor=${Buffer.from('"bulky"').toString('base64url')}`, 'querystring.cursor'),
  ]);
});
