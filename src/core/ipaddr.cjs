// Required, not imported: Node 20's ESM loader scanning ipaddr.js for its exports cost ~4.5 MB idle RSS.
const ipaddr = require('ipaddr.js');
module.exports = { ipaddr };
