'use strict';

const express = require('express');

const PORT = process.env.PORT || 3000;
const app = express();

app.get('/', (req, res) => {
  res.json({ service: 'orders', open: 12 });
});

app.get('/healthz', (req, res) => {
  res.send('ok\n');
});

app.listen(PORT, '0.0.0.0', () => {
  console.log(`orders listening on ${PORT}`);
});
