// porthole-heap-target.js - the Node.js process that tests/e2e/dump_node.sh
// dumps: it holds a string the test names (argv[2]), built at run time so
// it exists only on the heap, prints "ready PID" and waits.  With argv[3]
// "usr1" it handles SIGUSR1 itself (the inspector then never comes up);
// argv[4], a number, keeps that many small objects (a slow snapshot).
'use strict';
const marker = process.argv[2] || 'porthole-node-marker';
const held = [marker.split('').join('')];
if (process.argv[3] === 'usr1')
	process.on('SIGUSR1', () => { console.log('SIGUSR1 handled by the app'); });
const n = Number(process.argv[4] || 0);
for (let i = 0; i < n; i++)
	held.push({ i, s: 'o' + i });
globalThis.portholeHeld = held;
console.log('ready ' + process.pid);
setInterval(() => {}, 1000);
