# Feature-flag service stub: WEBrick from the standard Ruby packages, no gems to install.
require 'json'
require 'webrick'

port = Integer(ENV.fetch('PORT', '4567'))
server = WEBrick::HTTPServer.new(BindAddress: '0.0.0.0', Port: port, AccessLog: [])

server.mount_proc '/' do |_req, res|
  res.status = 200
  res['Content-Type'] = 'application/json'
  res.body = JSON.generate(service: 'flags', flags: { new_checkout: true })
end

trap('TERM') { server.shutdown }
trap('INT') { server.shutdown }
server.start
