<?php
// Guestbook stub: PHP's built-in web server, no extensions beyond php-cli.
header('Content-Type: application/json');
echo json_encode(['service' => 'guestbook', 'entries' => 0, 'php' => PHP_VERSION]);
