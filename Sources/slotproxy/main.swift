import SlotProxyServer
print("slotproxy")
