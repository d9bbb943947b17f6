var http = require('http');

var port = process.env.PORT || 8081;

http.createServer(function (req, res) {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', checks: [] }));
}).listen(port, '0.0.0.0');

console.log('health aggregator on ' + port);
